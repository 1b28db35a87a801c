"""The sync engine: roster, planners, bookings, reminders and verslag checks.

Each step plans first (pure functions over the store and the settings), then executes its side
effects through the intent log (`intents.py`), so a crash or a repeat never doubles an effect.
The engine talks to the vendors only through the small protocols in `ports.py`.
"""
