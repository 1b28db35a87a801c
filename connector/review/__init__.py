"""The query layer: what people review, read from the store and the settings, never from a vendor.

`runs` (the run log), `status` (each school's rounds, jobs and what needs a person), `verslagen`
(the report per leerkracht), `rounds` (the figures per round) and `health` (is the daemon well).
The CLI renders these, and so does the web page: neither holds a query of its own.
"""
