"""Every behaviour the emulator had to choose because the real API's is unknown.

The contract (`metorial-api.md`) marks these "(emulator choice)" or leaves them open. They
live here, together, so they are easy to find and to change when the real behaviour is
learnt. Nothing else in the package should hard-code one of these decisions.
"""

from __future__ import annotations

# --- Ids -----------------------------------------------------------------------------------
# Auth credentials have no documented prefix; `pacr_` keeps the provider-auth family look.
AUTH_CREDENTIALS_PREFIX = "pacr"
# Ids are `<prefix>_<counter><suffix>`: a zero-padded base62 counter (so ids sort in creation
# order, which the API's id-sorted lists rely on) followed by a random base62 suffix.
ID_COUNTER_WIDTH = 10
ID_SUFFIX_WIDTH = 6
# ASCII-ordered alphabet so that byte-wise (SQLite BINARY) comparison matches numeric order.
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# --- Text ----------------------------------------------------------------------------------
# `name` and `description` are trimmed as the platform's TypeScript trims (String.prototype.trim:
# JavaScript's white space and line terminators). It is not Python's str.strip(): U+FEFF is
# trimmed, while U+001C-U+001F and U+0085 are kept.
TRIM_CHARACTERS = ("\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
                   + "\u2028\u2029\u202f\u205f\u3000\ufeff")

# --- PATCH ---------------------------------------------------------------------------------
# A missing or null field leaves the value unchanged; an empty string clears it (to null).
PATCH_EMPTY_STRING_CLEARS = True

# --- Rate limits ---------------------------------------------------------------------------
# `RateLimit-Reset` is the number of whole seconds (ceil) until the sliding window frees a
# slot; 0 when the window is empty. Rejected (429) requests do not consume the window.
RATE_LIMIT_RESET_UNIT = "seconds"
RATE_LIMIT_PRESETS: dict[str, tuple[int, float]] = {
    "org": (5000, 600.0),  # the enforced per-organization limit
    "ip": (1000, 10.0),  # the published per-IP limit
    "dev": (100, 600.0),  # the published development-instance limit
}
DEFAULT_RATE_LIMIT_PRESET = "org"

# --- Faults --------------------------------------------------------------------------------
# 429 bursts: each API request, with probability `burst_429_rate`, starts a burst; the
# starting request and the next `burst_429_length - 1` requests are answered 429 with the
# contract's body. Burst 429s do not consume the rate-limit window.
BURST_429_MODEL = "probability-starts-burst-of-fixed-length"
# Fault draws happen in this order for every API request, from one random.Random(seed), so a
# sequential run is reproducible: jitter, burst start, 500 error, drop.
FAULT_DRAW_ORDER = ("jitter", "burst_429", "error", "drop")
# Dropped responses: only committed writes (POST/PATCH/DELETE answered 2xx) are dropped. The
# write is stored, then the connection is closed without a response. Under uvicorn the
# emulator starts a response with an invalid header so the server closes the socket before
# writing any byte; in-process the app raises `ResponseDropped`, an httpx.RemoteProtocolError.
DROP_ONLY_SUCCESSFUL_WRITES = True

# --- Pagination ----------------------------------------------------------------------------
# `cursor` is `cur_` + urlsafe base64 (no padding) of `a:<id>` (after) or `b:<id>` (before).
CURSOR_PREFIX = "cur_"
# Giving more than one of `after`, `before`, `cursor` is a 400 invalid_data.
PAGINATION_ANCHORS_EXCLUSIVE = True
# A filter naming an unknown provider (or other referenced id) yields an empty list, not 404.
UNKNOWN_FILTER_VALUE_EMPTY_LIST = True

# --- Cascades ------------------------------------------------------------------------------
# Cascades are transitive (deployment -> config -> template provider) and happen in the same
# transaction as the delete, or `cascade_delay_ms` later on the event loop.
# Deleting an auth config cascades nowhere (the contract names no cascade for it).
CASCADE_TRANSITIVE = True

# --- References ----------------------------------------------------------------------------
# `provider_auth_method_id` given as a key resolves among the current version's methods of
# the provider when the provider is known (from the deployment); otherwise the key must
# match exactly one current-version method across the catalog (else 400 invalid_data).
AUTH_METHOD_KEY_SCOPE = "current-version"
# An unknown referenced id is 404 not_found naming the entity and id.
UNKNOWN_REFERENCE_STATUS = 404
# Mismatched providers across references: 400 with this code.
PROVIDER_MISMATCH_CODE = "invalid_data"
PROVIDER_MISMATCH_MESSAGE = "Provider session inputs have mismatched providers"
TEMPLATE_PROVIDER_EMPTY_MESSAGE = "Please provide at least a provider config, auth config, or deployment"
MAX_TEMPLATE_PROVIDERS = 100
TEMPLATE_PROVIDER_LIMIT_CODE = "limit_exceeded"
# Template provider pieces: a missing deployment resolves to the config's / auth config's
# deployment, else the provider's default deployment; a missing config resolves to the
# deployment's default config (null if it has none); a vault creates a config from it.
# Provider auth credentials require the provider to have an OAuth auth method.
CREDENTIALS_REQUIRE_OAUTH = True

# --- Objects -------------------------------------------------------------------------------
# A config is `is_default` only when a deployment created it (deployment `provider_config`).
# Auth configs created through the API have source "manual"; their type is "manual" for
# manual methods and "oauth_manual" for oauth methods.
AUTH_CONFIG_TYPE_BY_METHOD = {"manual": "manual", "oauth": "oauth_manual"}
CONFIG_VISIBILITY = "encrypted"
# Deployments' `provider_version_id` filter matches the effective version (locked, else the
# provider's current version at write time).
# Timestamps: ISO 8601 UTC with millisecond precision and a `Z` suffix (store.now_iso).
# Embedded previews carry `object` names with a `#preview` suffix, e.g. "provider.config#preview";
# a template provider's `auth_config` is {"object": "provider.auth_config#preview", "id"}.
PREVIEW_SUFFIX = "#preview"
# `GET /session-templates/{id}/tools` answers {"object": "list", "items": [tool…]}, unpaginated.
CATALOG_TIMESTAMP = "2025-01-15T09:00:00.000Z"

# --- Tool filters --------------------------------------------------------------------------
# A tool passes a filter when the filter has no tool rules, or any tool rule matches it.
# An invalid or over-long regex matches nothing (regexes are only checked when used).
MAX_REGEX_LENGTH = 1000

# --- Transport -----------------------------------------------------------------------------
# A body without a Content-Type is parsed as JSON; form bodies (urlencoded) give string fields.
# Unknown routes and unsupported methods on known paths are 404 not_found (entity "endpoint").
# Publishable keys may call `/provider-config-schema` with provider_id / provider_version_id
# (catalog data) but not with provider_deployment_id / provider_config_id (403).
# 401 messages: "Missing Authorization header", "Malformed Authorization header" (scheme not
# exactly `Bearer`, extra spaces, or a key not starting with `metorial_`), "Invalid API key".
MISSING_CONTENT_TYPE_IS_JSON = True

# --- Admin ---------------------------------------------------------------------------------
# `/_emulator/*` answers loopback clients only (403 otherwise). A request there carrying an
# `Authorization` header is treated as an API call to an unknown path: 404 not_found in the
# API's error shape, not counted, not rate limited, not faulted.
ADMIN_PREFIX = "/_emulator"
