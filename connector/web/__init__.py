"""The web page for the director and the IB (issue W2-5): `connector web`, or inside the daemon
when `[web] enabled = true`.

It reads the store through the query layer (`connector/review/`), exactly as `status` and
`report verslagen` do, and runs "sync now" through `connector.engine.run` under the run lock;
it only renders, in Dutch, in the school's local time. `app.py` is the Starlette app, `pages.py`
what each page shows, `accounts.py` the accounts and sessions, `syncjobs.py` "sync now" in a
worker thread, `words.py` the Dutch words and times, `server.py` uvicorn. Nothing here is imported
by the idle daemon: the web stack (Starlette, uvicorn, Jinja2, argon2) loads only when it serves.
"""
