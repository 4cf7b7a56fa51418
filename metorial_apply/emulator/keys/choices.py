"""Every behaviour of the Metlo and Metal key emulators that their reference pages leave open.

Each choice names its source:
- "doc": the reference pages (shared/reference: 002 Metlo API keys, 003 Metal API keys);
- "metlo-src": the open-source Metlo backend (github.com/metlo-labs/metlo, backend/src/api/keys/
  index.ts, api-response-handler.ts, middleware/verify-api-key-middleware.ts);
- "metal-docs": docs.metal.ai pages beyond the reference (api-reference/introduction,
  guides/errors, guides/pagination, api-reference/api-keys/get-current-api-key);
- "unverified": our guess, to change when the real behaviour is learnt.
Nothing else in emulator/keys/ should hard-code one of these decisions.
"""

from __future__ import annotations

import string

# --- Both ----------------------------------------------------------------------------------
# Only a hash of each secret is stored: sha256 hex of the whole key (doc, Metlo: "hashes the API
# key"; the function is unverified: metlo-src uses HMAC-SHA512 with a server salt). Keys carry
# enough entropy that a salt adds nothing here.
SECRET_HASH = "sha256"
# Secrets come from `secrets` (never seeded): `--seed` makes faults reproducible, not keys.
SECRET_ALPHABET = string.ascii_letters + string.digits
# A deleted key leaves every list at once but keeps authenticating for `revoke_delay_ms` after
# its delete (doc, Metal: "Revoked keys stop working within a short cache window"; doc, Metlo:
# the auth check has "5-second Redis caching", which metlo-src sets after each successful
# lookup). The default is 0 (immediate) so tests of revocation need no waiting; pass
# `--revoke-delay-ms 5000` to model Metlo's documented worst case (unverified for Metal).
DEFAULT_REVOKE_DELAY_MS = 0.0
METLO_DOCUMENTED_CACHE_MS = 5000.0
# A deleted key's row stays (hash only, status "archived") until its window has passed, then it
# is purged on the next write (unverified: the real services' storage is unknown).
# Pipeline: faults drawn → latency → authenticate (401) → 429 burst → route (404) → 500 fault
# (before executing, nothing committed) → body (400) → execute → maybe drop (committed 2xx
# writes only), as in the Metorial emulator (unverified for both services).
# Unknown routes and methods are 404 after authentication (unverified).
# Admin routes (`/_emulator/…`) answer loopback clients only; a request carrying the service's
# credential headers is an API client, and gets the API's 404 (as the Metorial emulator does).

# --- Metlo ---------------------------------------------------------------------------------
METLO_KEY_PREFIX = "metlo_"  # doc: "metlo_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
METLO_KEY_RANDOM_LENGTH = 32  # doc: 32 characters after the prefix; their alphabet is unverified
# `identifier` is "metlo." + 9 lowercase letters and digits, like the doc's "metlo.abc123xyz";
# random and unrelated to the secret (unverified: metlo-src uses the secret's first 4 characters,
# which would print part of a secret wherever identities are shown). Unique per database.
METLO_IDENTIFIER_PREFIX = "metlo."
METLO_IDENTIFIER_ALPHABET = string.ascii_lowercase + string.digits
METLO_IDENTIFIER_LENGTH = 9
METLO_KEY_TYPES = ("GENERIC", "ONBOARDING", "GCP", "AWS")  # doc
METLO_DEFAULT_KEY_TYPE = "GENERIC"  # metlo-src: a missing or empty `keyFor` makes a GENERIC key
METLO_KEY_LIMIT = 50  # doc (metlo-src has 100 today); active keys count, the bootstrap key too
# Create checks in metlo-src's order: limit, duplicate name, missing name, key type.
METLO_LIMIT_MESSAGE = f"Maximum API Key Limit Reached: {METLO_KEY_LIMIT}. Consider deleting any that are not in use."
METLO_DUPLICATE_MESSAGE = "Can not create key with name {name}"  # doc
METLO_NAME_REQUIRED_MESSAGE = "Key name is required."  # metlo-src; also for a non-string name (unverified)
# metlo-src lists its enum (GCP, AWS, GENERIC, ONBOARDING); a non-string keyFor is invalid (unverified).
METLO_KEY_TYPE_MESSAGE = "The key must be for one of the following: GCP, AWS, GENERIC, ONBOARDING"
METLO_NOT_FOUND_MESSAGE = "Did not find any matching keys for {name}"  # metlo-src: 404 deleting an unknown name
METLO_UNAUTHORIZED_MESSAGE = "Client unauthorized"  # doc: missing, invalid and deleted keys alike
# Errors are the bare message text, as Express's `res.status(code).send(message)` sends a string
# (metlo-src api-response-handler.ts): the doc prints them as "…" strings, not JSON objects.
METLO_ERROR_CONTENT_TYPE = "text/html; charset=utf-8"
METLO_INTERNAL_ERROR_MESSAGE = "Internal Server Error"  # unverified
METLO_RATE_LIMIT_MESSAGE = "Too Many Requests"  # unverified: the doc names no rate limit
METLO_INVALID_JSON_MESSAGE = "Bad Request"  # unverified (Express's body parser answers 400)
METLO_NO_ROUTE_MESSAGE = "Cannot {method} {path}"  # Express's default 404 text
# A non-object JSON body reads as {} (so "Key name is required."), as destructuring does in metlo-src.
# `list` is in creation order (unverified: metlo-src's find() has no order); `onboarding` lists
# only ONBOARDING keys, newest first (metlo-src). Every key type may call every endpoint
# (metlo-src's middleware checks the hash only). `created` has millisecond precision and a Z
# (metlo-src: toISOString). A deleted name may be reused at once (metlo-src deletes the row).
# Key names are any non-empty string; the delete route takes the name percent-decoded from the
# path (Express decodes route parameters), so any name can be deleted.
METLO_BOOTSTRAP_NAME = "emulator-admin"
METLO_BOOTSTRAP_KEY = "metlo_local_emulator_admin_key"
METLO_BOOTSTRAP_IDENTIFIER = "metlo.localadmin"

# --- Metal ---------------------------------------------------------------------------------
# Success bodies are {"data": …}; errors {"error": "message"} (metal-docs introduction, errors).
METAL_UNAUTHORIZED_MESSAGE = "invalid api key or clientId"  # doc: missing or invalid credentials
# A key object is {id, name, keyLastFour, clientId, createdAt} (metal-docs get-current-api-key);
# create adds the one-time secret as `key` (doc: "The response includes the one-time secret key")
# and answers 201 Created (metal-docs errors: "201 Created — Resource created").
# The seed documents show the create answer's fields only in part, so the name `key` is a guess
# (issue 22 item 9): `PUT /_emulator/faults {"secret_field": NAME}` on a Metal emulator answers
# the secret under NAME instead, the mismatch a live Metal would show if the guess were wrong.
METAL_SECRET_FIELD = "key"
# `id` is 24 lowercase hex characters (metal-docs: "Resource IDs are 24-character hexadecimal
# strings"), laid out like a MongoDB ObjectId (seconds, 5 random bytes per process, counter),
# so ids sort in creation order.
METAL_CLIENT_ID_PREFIX = "ci_"  # metal-docs: "ci_your_client_id_here"
METAL_CLIENT_ID_RANDOM_LENGTH = 24  # unverified
METAL_KEY_PREFIX = "pk_"  # unverified: the earlier Metal API's docs (docs.getmetal.io) show "pk_1234567890"
METAL_KEY_RANDOM_LENGTH = 40  # unverified
# `createdAt` has whole seconds and a Z (metal-docs: "2023-11-07T05:31:56Z").
# `DELETE /v1/keys/{key}` takes the key's `id` (unverified: the API addresses resources by id)
# and answers 200 {"data": <the deleted key>} (unverified); an unknown id is 404.
METAL_NOT_FOUND_MESSAGE = "API key not found"  # unverified
METAL_NAME_REQUIRED_MESSAGE = "name is required"  # unverified: a missing, empty or non-string name
# Names need not be unique (unverified: neither page says they must): two keys may share one.
# The key limit "depends on your plan" (doc); here 100 active keys, then 422 (metal-docs errors:
# "422 … for example, a plan limit"); the number and message are unverified.
METAL_KEY_LIMIT = 100
METAL_LIMIT_MESSAGE = "API key limit reached for your plan"  # unverified
METAL_INVALID_JSON_MESSAGE = "invalid JSON body"  # unverified
METAL_INTERNAL_ERROR_MESSAGE = "internal server error"  # unverified
METAL_RATE_LIMIT_MESSAGE = "rate limit exceeded"  # unverified (metal-docs: 429 with backoff)
METAL_NO_ROUTE_MESSAGE = "not found"  # unverified
# `GET /v1/keys` pages like the API's other lists (metal-docs pagination): `limit` (default 100,
# clamped to 1-1000), `page` (from 1, at most 100), `lt` (ids below this one), `sort` (`_id`,
# `createdAt` or `name`; default `_id`), `direction` (`asc` or `desc`, default `desc`: newest
# first). Other values are 400 (unverified).
METAL_PAGE_LIMIT_DEFAULT = 100
METAL_PAGE_LIMIT_MAX = 1000
METAL_PAGE_MAX = 100
METAL_SORT_FIELDS = ("_id", "createdAt", "name")
METAL_BAD_PAGINATION_MESSAGE = "invalid pagination parameter: {name}"  # unverified
# `GET /v1/keys/current` returns the calling key's object (metal-docs get-current-api-key).
METAL_BOOTSTRAP_NAME = "Emulator admin"
METAL_BOOTSTRAP_CLIENT_ID = "ci_local_emulator_admin"
METAL_BOOTSTRAP_KEY = "pk_local_emulator_admin_key"
METAL_BOOTSTRAP_ID = "000000000000000000000001"
# The bootstrap key is an ordinary key, seeded once per database (so it counts towards the
# limit, is listed, and can be deleted, which locks the API out until `/_emulator/reset`).
