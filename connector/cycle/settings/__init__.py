"""Settings: a school's (or school board's) conversation cycle as validated configuration."""

from connector.cycle.settings.loader import LoadedSettings, load_settings, settings_path
from connector.cycle.settings.models import Round, School, Settings

__all__ = ["LoadedSettings", "Round", "School", "Settings", "load_settings", "settings_path"]
