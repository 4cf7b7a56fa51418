"""The Metorial API over async httpx: auth, pagination, retries, rate limit, responses,
the catalog and the live read (fetch_live). Imports only core."""
