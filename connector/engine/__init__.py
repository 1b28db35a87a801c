"""The sync engine: roster, planners, bookings, reminders and verslag checks.

`schedule.py` says what is due, `jobs.py` plans each due task (reads only) and `run.py` executes
the plans; side effects go through the intent log (`intents.py`), so a crash or a repeat never
doubles an effect. The engine talks to the vendors only through the small protocols in `ports.py`.
"""
