"""Monitoring outlets: `watch` polls sources (feed URLs, sitemaps, folders) into a store and `alerts` turns what
arrives into alerts (a JSON-lines file, a webhook)."""
