"""The console: pages served by openvertex itself, for operators who would rather look than read.

`routes.py` serves the page and the admin API it calls; `usage.py` turns ledger rows into
the usage page's series and percentiles; `static/` is the page, plain HTML, CSS and
JavaScript with no build step and nothing fetched from a CDN. The playground is one more
client of the public API, so its requests are authenticated, quota-checked and ledgered.
"""
