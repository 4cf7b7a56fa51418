"""Every behaviour the emulator had to choose, with where it comes from.

Two sorts of entries, kept apart on purpose:
- constants: read at call time (as `choices.NAME`) by the code they describe, so changing one
  changes the emulator; tests/emulator/test_choices.py flips each of them and watches the effect
  (and fails when a constant is added here without a flip);
- plain documented entries (comments): behaviour fixed in the code, recorded here with its source
  so it is found and changed in one place when the real behaviour is learnt.

Sources name a file and its repository, or say "unverified" (then it is an emulator choice).
"subspace" is github.com/metorial/subspace, the backend behind the public API.
"""

from __future__ import annotations

# --- Ids -----------------------------------------------------------------------------------
# Prefixes follow the contract (metorial-api.md); auth credentials have no documented prefix
# and use the engine's `par` (subspace @8cedab28 db/src/id.ts `providerAuthCredentials:
# idType.sorted('par')`; the engine answers `par_…` ids), set in kinds.py.
# Ids are `<prefix>_<counter><suffix>`: a zero-padded base62 counter (so ids sort in creation
# order, which the API's id-sorted lists rely on) then a random base62 suffix. Unverified.
ID_COUNTER_WIDTH = 10
ID_SUFFIX_WIDTH = 6

# --- Text ----------------------------------------------------------------------------------
# `name` and `description` are trimmed as the platform's TypeScript trims (String.prototype.trim:
# JavaScript's white space and line terminators; `d.input.name?.trim()` throughout subspace's
# services). It is not Python's str.strip(): U+FEFF is trimmed, U+001C-U+001F and U+0085 kept.
TRIM_CHARACTERS = ("\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
                   + "\u2028\u2029\u202f\u205f\u3000\ufeff")

# --- PATCH ---------------------------------------------------------------------------------
# A missing or null field leaves the value unchanged. PATCH does not trim (create does): the
# services store `d.input.name ?? existing` as sent (subspace @8cedab28
# modules/deployment/src/services/providerDeployment.ts updateProviderDeployment, providerConfig.ts,
# providerConfigVault.ts, modules/session/src/services/sessionTemplate.ts,
# modules/auth/src/services/providerAuthCredentials.ts), so " x " stays " x ". Auth configs are the
# exception: updateProviderAuthConfig (modules/auth/src/services/providerAuthConfig.ts:391) writes
# `name: d.input.name?.trim() || existing` and the same for description: trimmed, and a blank keeps
# the old text. For the others a blank (""), stored as sent, is kept as null here, which reads back
# the same to clients. Credentials: run on the engine @8cedab28, a blank description reads back ""
# (tests/engine/scenarios/credentials.py, question a).
BLANK_TEXT_KEEPS_OLD: frozenset[str] = frozenset({"auth_config"})
PATCH_TRIMS: frozenset[str] = frozenset({"auth_config"})
# The March engine (subspace @8cedab28 apps/controller/src/controllers/providerDeployment.ts `update`
# passes `normalizeToolFilters(ctx.input.toolFilters)`, which turns an absent filter into
# `{type: "v1.allow_all"}` (modules/provider-internal/src/lib/toolFilter.ts); the service's
# `d.input.toolFilters ? … : existing` then always takes it): a deployment PATCH without
# `tool_filters` resets the filter to all tools. Fixed later; the emulator keeps the filter by
# default and offers the March behaviour as the fault `patch_resets_tool_filters`
# (`emulator serve --patch-resets-tool-filters`). Configs and auth configs take no filter on
# update at that commit, so only deployments are affected.
MARCH_RESET_KINDS: frozenset[str] = frozenset({"deployment"})

# --- Rate limits ---------------------------------------------------------------------------
# `RateLimit-Reset` is an epoch timestamp in whole seconds (ceil) at which the sliding window
# frees a slot, by this emulator's clock (clock_offset_s included); with an empty window, now.
# metorial-api.md ("platform source"); the platform's rate-limit middleware is not among the
# fetched repositories, so the unit is taken from the contract. Rejected (429) requests do not
# consume the window. The default is the "org" preset (settings.py).
RATE_LIMIT_RESET_EPOCH = True
# Presets that `PUT /_emulator/rate-limit {"preset": …}` selects: the contract's published limits.
RATE_LIMIT_PRESETS: dict[str, tuple[int, float]] = {
    "org": (5000, 600.0),  # the enforced per-organization limit
    "ip": (1000, 10.0),  # the published per-IP limit
    "dev": (100, 600.0),  # the published development-instance limit
}

# --- Faults (all unverified: test machinery, not API behaviour) ----------------------------
# 429 bursts: each API request, with probability `burst_429_rate`, starts a burst; the starting
# request and the next `burst_429_length - 1` requests are answered 429 with the contract's body.
# Burst 429s do not consume the rate-limit window (app.py).
# Fault draws happen in this order for every API request, from one random.Random(seed), so a
# sequential run is reproducible: jitter, burst start, 500 error, drop (faults.py).
# Dropped responses: only committed writes (POST/PATCH/DELETE answered 2xx) are dropped. The write
# is stored, then the connection is closed without a response. Under uvicorn the emulator starts a
# response with an invalid header so the server closes the socket before writing any byte;
# in-process the app raises `ResponseDropped`, an httpx.RemoteProtocolError (transport.py).
# List lag: lists omit each object until `list_lag_ms` plus its own share of `list_lag_jitter_ms`
# (a hash of the fault seed and its id, in [0, 1)) has passed since its created_at, by this
# emulator's clock; reads by id never lag. Whether the real API's lists lag is unknown; this is
# the eventually consistent list a stack lock's settle delay and re-read are for (listing.py).

# --- Clocks (emulator-only, test machinery) ------------------------------------------------
# Timestamps come from this machine's clock plus `EmulatorSettings.clock_offset_s` (default 0;
# `emulator serve --clock-offset-s`), the same for every object the emulator writes. Two emulators
# sharing one SQLite file with different offsets play one API behind servers whose clocks
# disagree; ids keep sorting in creation order whatever the clocks say (store.Store.new_id).

# --- Pagination ----------------------------------------------------------------------------
# `cursor` is `cur_` + urlsafe base64 (no padding) of `a:<id>` (after) or `b:<id>` (before).
# Unverified (the contract only says opaque `cur_…`).
CURSOR_PREFIX = "cur_"
# `after` and `before` follow the list's own order, `order=desc` included: `order=desc&after=<id>`
# is the ids below <id>, descending, and `has_more_after` says whether more lie below the page
# (listing.run_list). metorial-api.md is silent on `after` with `desc`; this is the platform's
# paginator: lowerdeck packages/pagination/src/paginatedProvider.ts (paginatedProviderPrisma, the
# one subspace's services use through `Paginator.create(({ prisma }) => …)`) asks Prisma for
# `orderBy: [{id: order}]` from `cursor: {id: after}` and drops the cursor row, so a page continues
# in the requested order past the cursor; `hasNextPage` (has_more_after) is whether more rows
# followed the page, `hasPreviousPage` whether the cursor row was found. The Mongoose provider
# beside it says the same in its own terms (`desc` + `after` → `_id: {$lt: after}`). A live read
# reads each kind from both ends on this (api/ends.py).
# Giving more than one of `after`, `before`, `cursor` is a 400 invalid_data (listing.py).
# A filter naming an unknown provider (or other referenced id) yields an empty list, not 404.
# Both unverified.
# Filters narrow or are refused, never ignored: a query parameter that is neither a common one
# (paging, status, id, search, created_at/updated_at bounds) nor one of the kind's filters is a
# 400 invalid_data naming it (listing.py). An emulator choice: lowerdeck's v.object drops unknown
# keys on the engine's RPC, so a wrong filter there returns everything, which is exactly the
# mistake a test should see. Session templates take `provider_id`, `provider_deployment_id`,
# `provider_config_id`, `provider_auth_config_id`, matching a template when any of its providers
# does, archived ones included (subspace @8cedab28 modules/session/src/services/sessionTemplate.ts
# listSessionTemplates: `providers: {some: {deploymentOid: …}}`, no status on the relation).
# Deployments' `provider_version_id` matches the locked version only: unlocked deployments never
# match (modules/deployment/src/services/providerDeployment.ts listProviderDeployments:
# `currentVersion: {lockedVersionOid: versions.in}`).

# --- Cascades ------------------------------------------------------------------------------
# Cascades are transitive (deployment -> config -> template provider) and happen in the same
# transaction as the delete, or `cascade_delay_ms` later on the event loop (crud.py). Unverified.
# Deleting an auth config archives the session-template providers that use it (issue 22 item 1,
# read in subspace newer than @8cedab28; the fetched mirror's newest commit is @8cedab28, which has
# no archive handler for auth configs at all, so neither the source line nor the engine can be
# checked here: kinds.py's auth_config cascade edge).
# Archiving a deployment or a config linked to an active integration provider (of an active
# integration) is refused: 400 bad_request-shaped errors with their own codes and messages, and
# `data` naming the integration provider (newer subspace modules/deployment/src/services/
# providerDeployment.ts and providerConfig.ts, assertNoActiveIntegrationProviderLink, called by
# archiveProviderDeployment / archiveProviderConfig; not in the fetched mirror @8cedab28, which has
# no archive at all, so not run on the engine). The public API has no way to make an integration
# provider, so the emulator's stand-in is the admin route `PUT /_emulator/integration-links`
# ({"id": <deployment or config id>, "integration_provider_id": "ipr_…" or null}).
INTEGRATION_ARCHIVE_REFUSALS: dict[str, tuple[str, str]] = {
    "deployment": ("provider_deployment_integration_provider_archive_not_allowed",
                   "Provider deployment is linked to an active integration provider and cannot be archived directly."),
    "config": ("provider_config_integration_provider_archive_not_allowed",
               "Provider config is linked to an active integration provider and cannot be archived directly."),
}
# Deleting auth credentials archives them and cascades nowhere: auth configs bound to them keep
# pointing at the archived credentials. An emulator choice: the engine has no archive or delete
# for credentials at all (see Auth credentials below), so it cannot say what the public DELETE does.

# --- References ----------------------------------------------------------------------------
# `provider_auth_method_id` given as a key resolves among the current version's methods of the
# provider when the provider is known (from the deployment); otherwise the key must match exactly
# one current-version method across the catalog (else 400 invalid_data). Unverified.
# An unknown referenced id is 404 not_found naming the entity and id. Unverified.
# Mismatched providers across a template provider's pieces: 400 bad_request, lowerdeck's
# badRequestError default code (lowerdeck @ec12915e packages/error/src/defaultErrors.ts), message from
# subspace @8cedab28 modules/provider-internal/src/services/providerCombination.ts (providerMismatchError).
PROVIDER_MISMATCH_CODE = "bad_request"
PROVIDER_MISMATCH_MESSAGE = "Provider session inputs have mismatched providers"
# On creation (an auth config given a deployment of another provider, a config given a vault of
# another provider): 400 provider_mismatch "All entities must belong to the same provider"
# (modules/provider-internal/src/lib/checkProviderMatch.ts, called by
# modules/auth/src/services/providerAuthConfig.ts and modules/deployment/src/services/providerConfig.ts).
# A config given a deployment of another provider is not checked by the engine @8cedab28
# (createProviderConfig checks the vault only); the emulator refuses it the same way (unverified).
CREATE_MISMATCH_CODE = "provider_mismatch"
CREATE_MISMATCH_MESSAGE = "All entities must belong to the same provider"
# Active providers per template: modules/session/src/services/sessionProviderInput.ts
# createSessionTemplateProvidersForInput counts the template's active providers plus the new ones
# after resolving them: over 100 → 400 bad_request "Cannot associate more than 100 providers to a
# session template"; one call with over 100 providers is refused before that
# (createProviderSessionInput: "… to a session").
MAX_TEMPLATE_PROVIDERS = 100
TEMPLATE_PROVIDER_LIMIT_CODE = "bad_request"
TEMPLATE_PROVIDER_LIMIT_MESSAGE = "Cannot associate more than {limit} providers to a session template"
# Provider auth credentials require the provider to have an OAuth auth method (writes.py). Unverified.

# --- Auth credentials (subspace @8cedab285ebc, run on the engine: tests/engine/scenarios/credentials.py) ---
# PATCH applies name, description and metadata only; `client_id`, `client_secret` and `scopes` are
# type-checked (the public API declares them, official SDK 2.6 `update`) and then ignored: 200, the
# object unchanged in those fields. Source: apps/controller/src/controllers/providerAuthCredentials.ts
# (`update` input: name, description, metadata; lowerdeck's v.object drops other keys) and
# modules/auth/src/services/providerAuthCredentials.ts updateProviderAuthCredentials (writes those
# three only, never calls the OAuth-client backend). On the engine an update carrying them, flat or
# under `config`, answers 200, makes no call to the OAuth-client service and leaves the stored
# client link unchanged. The type check itself is unverified (the engine never sees the fields).
# No archive or delete: the controller has no such handler for credentials, auth configs, OAuth
# setups, setup sessions, deployments, configs or vaults (RPC answers 404 "The requested handler
# could not be found."); the `archived`/`deleted` statuses exist in the schema
# (db/prisma/schema/auth/credentials.prisma) but nothing in the engine sets them.
# An auth config's credentials are set only when an OAuth setup completes and creates it, from the
# setup's credentials (modules/auth/src/services/providerOAuthSetupInternal.ts handleOAuthSetupResponse,
# `oauth_automated` configs; setup sessions for OAuth methods go through an OAuth setup,
# providerSetupSessionInternal.ts createProviderAuthConfig), never by auth-config create or update
# (apps/controller/src/controllers/providerAuthConfig.ts: neither input has a credentials id; the
# engine accepts one and drops it, the link stays null). So the link is create-only, and the configs
# that have one cannot be updated at all (updateProviderAuthConfig:
# cannot_update_automated_oauth_config). The emulator's auth configs have no credentials link and
# ignore `provider_auth_credentials_id` on create and PATCH, as the engine does.
# `is_managed`: no engine object carries it and "managed" appears nowhere in subspace. The engine's
# nearest is `isDefault` credentials made by ensureDefaultProviderAuthCredentials (config type
# `auto_registration`, when an OAuth setup names no credentials and the provider supports OAuth
# auto-registration; providerOAuthSetup.ts createProviderOAuthSetup); the public create takes only
# `type: "oauth"` (400 otherwise). Credentials made through the API are therefore never managed
# here: `is_managed` false, `origin` custom.

# --- Template providers (subspace modules/provider-internal/src/services/providerCombination.ts) ---
# The same rules apply to inline `providers` on template create and to /session-template-providers.
# Pieces of a template provider: a missing deployment resolves to the config's / auth config's
# deployment, else the provider's default deployment; a vault (emulator extension, unverified)
# creates a config from it on the deployment.
# Nothing given: 400 bad_request (badRequestError's default code; providerCombination.ts getCombinations).
TEMPLATE_PROVIDER_EMPTY_CODE = "bad_request"
TEMPLATE_PROVIDER_EMPTY_MESSAGE = "Please provide at least a provider config, auth config, or deployment"
# A config or auth config bound to another deployment, or a deployment of another provider:
# 400 bad_request with deploymentMismatchError's message (lowerdeck badRequestError's default code).
DEPLOYMENT_MISMATCH_CODE = "bad_request"
DEPLOYMENT_MISMATCH_MESSAGE = "Provider session inputs cannot be used with the selected deployment"
# No config given: the deployment's default config; else, when the version's config schema "has
# required properties", 400 config_required; else an empty default config is created on the
# deployment (providerConfig.ts ensureDefaultEmptyProviderConfig: name "Default Config for <deployment
# name, or the provider's name when the deployment's contains 'Default '>", description
# "Auto-created by Metorial", no metadata, is_default). "Has required" follows the source exactly:
# no schema → no; an object schema with properties and an empty `required` → no; anything else → yes.
# The schema is normalised first: `{type: object}` without properties (or with `properties: {}`)
# is no schema (subspace @8cedab28 provider-backends/provider-utils/src/lib/normalizeJsonSchema.ts,
# called by providerCombination.ts and providerDeployment.ts), so it never requires a config.
CONFIG_REQUIRED_CODE = "config_required"
CONFIG_REQUIRED_MESSAGE = "Provider requires a config to be provided"
DEFAULT_CONFIG_DESCRIPTION = "Auto-created by Metorial"
# No auth config given and the version has auth methods: the deployment's default auth config, else
# 400 auth_config_required. The public API has no way to make an auth config a deployment's default
# (the subspace service takes `isDefault`, the public controller does not pass it): deployments here
# never have one, so every provider with auth methods needs an explicit auth config.
AUTH_CONFIG_REQUIRED_CODE = "auth_config_required"
AUTH_CONFIG_REQUIRED_MESSAGE = "Provider requires an auth config to be provided"
# An auth config for a provider without auth methods: 400 "Provider does not support auth configs".

# --- Configs from vaults (subspace modules/deployment/src/services/providerConfig.ts) ----------
# createProviderConfig: `deploymentOid: d.providerDeployment?.oid ?? vault.deploymentOid` (the new
# config takes the vault's deployment); a vault bound to a deployment other than the given one is
# preconditionFailedError 412 deployment_lock_mismatch "Vault is locked to a different deployment".
VAULT_LOCK_STATUS = 412
VAULT_LOCK_CODE = "deployment_lock_mismatch"
VAULT_LOCK_MESSAGE = "Vault is locked to a different deployment"

# --- Objects -------------------------------------------------------------------------------
# A deployment created without a config, of a version whose (normalised) config schema is none,
# gets an empty default config at once: name "Default Config for <deployment name>", the
# deployment's metadata (a copy of our stamp, too), is_default, no description, and it is the
# deployment's `default_config` (subspace @8cedab28 modules/deployment/src/services/
# providerDeployment.ts createProviderDeployment: `if (!schema) d.input.config = {type: 'inline',
# data: {}}`, then createProviderConfig `Default Config for ${d.input.name}`). Run on the engine:
# tests/engine/recorded/fidelity.json, deployment_of_schemaless_provider_gets_default_config (the
# engine's Calculator, `{type: object, properties: {}}`; the emulator's `calculator` alike). An
# unnamed deployment's config is named after the provider here, as for `provider_config`; the
# engine writes "Default Config for undefined" (a JavaScript template of a missing name), which the
# public API layer may or may not prevent (unverified).
# A config is `is_default` only when a deployment created it (deployment `provider_config`, or the
# empty default config above). Auth configs created through the API have source "manual"; their
# type is "manual" for manual methods and "oauth_manual" for oauth methods (unverified).
AUTH_CONFIG_TYPE_BY_METHOD = {"manual": "manual", "oauth": "oauth_manual"}
CONFIG_VISIBILITY = "encrypted"  # unverified
# Object names from subspace packages/presenters/src/: sessionTemplate.ts "session.template",
# sessionTemplateProvider.ts "session.template.provider", providerAuthMethod.ts
# "provider.capabilities.auth_method" (scopes "provider.capabilities.auth_method.scope"),
# providerConfig.ts "provider.capabilities.config.schema". A tool's `instructions` is a list and
# `tool_categories[]` carry `tool_count` (metorial-api.md; the SDK's types agree).
OBJECT_NAMES = {
    "session_template": "session.template",
    "template_provider": "session.template.provider",
    "auth_method": "provider.capabilities.auth_method",
    "auth_method_scope": "provider.capabilities.auth_method.scope",
    "config_schema": "provider.capabilities.config.schema",
}
# Timestamps: ISO 8601 UTC with millisecond precision and a `Z` suffix (store.now_iso). Unverified.
# Embedded previews carry `object` names with a `#preview` suffix, e.g. "provider.config#preview";
# a template provider's `auth_config` is {"object": "provider.auth_config#preview", "id"}. Unverified.
PREVIEW_SUFFIX = "#preview"
# Embedded previews have no `status` (the official SDK 2.6's preview types have none).
# List envelopes carry `"object": "list"` as metorial-api.md documents; the SDK's list types have
# only `items` and `pagination` (its mappers ignore the extra key). Unverified which is right: kept,
# and tolerated by name in tests/conformance.
# `GET /session-templates/{id}/tools` answers {"object": "list", "items": [tool…]}, unpaginated.
CATALOG_TIMESTAMP = "2025-01-15T09:00:00.000Z"

# --- Tool filters --------------------------------------------------------------------------
# A tool passes a filter when the filter has no tool rules, or any tool rule matches it. Regexes
# match case-insensitively (metorial-api.md). An invalid or over-long regex matches nothing
# (regexes are only checked when used). The length cap is unverified.
MAX_REGEX_LENGTH = 1000

# --- Transport -----------------------------------------------------------------------------
# A body without a Content-Type is parsed as JSON; form bodies (urlencoded) give string fields.
# Unknown routes and unsupported methods on known paths are 404 not_found (entity "endpoint").
# Publishable keys may call `/provider-config-schema` with provider_id / provider_version_id
# (catalog data) but not with provider_deployment_id / provider_config_id (403).
# 401 messages: "Missing Authorization header", "Malformed Authorization header" (scheme not
# exactly `Bearer`, extra spaces, or a key not starting with `metorial_`), "Invalid API key".
# All unverified beyond the contract (app.py).

# --- Admin ---------------------------------------------------------------------------------
# `/_emulator/*` answers loopback clients only (403 otherwise). A request there carrying an
# `Authorization` header is treated as an API call to an unknown path: 404 not_found in the
# API's error shape, not counted, not rate limited, not faulted. Emulator-only.
ADMIN_PREFIX = "/_emulator"
