"""A Discord REST API and gateway fake, for end-to-end tests that run the real discord.py.

It serves the REST API (v10), the gateway (a WebSocket) and attachment downloads over
real HTTP on 127.0.0.1 (aiohttp), answering closely enough to Discord that discord.py 2.7
runs against it unmodified::

    async with DiscordFake() as fake:
        discord.http.Route.BASE = fake.api_url                     # f"{base_url}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        # (tests: monkeypatch.setattr, so both are restored; the bot reads
        #  DISCORD_API_URL / DISCORD_GATEWAY_URL, see ``fake.env()``)
        await client.login(TOKEN)
        task = asyncio.create_task(client.connect())

Routes (REST under ``/api/v{N}``; answers are JSON with ``Content-Type: application/json``
exactly, errors ``{"message": ..., "code": N}`` plus ``errors`` for 50035)
    ``GET /users/@me``, ``GET /users/{id}``, ``POST /users/@me/channels`` (a DM channel),
    ``GET /gateway``, ``GET /gateway/bot`` (``url`` is this fake's gateway, ``shards``
    the ``shards`` knob),
    ``GET /oauth2/applications/@me``, ``GET /applications/@me``;
    ``GET|PUT|POST /applications/{app}/commands`` and ``GET|PATCH|DELETE .../commands/{id}``,
    the same under ``/applications/{app}/guilds/{guild}/commands`` (bulk overwrite keeps
    the id of a command whose name and type stay);
    ``POST /interactions/{id}/{token}/callback`` (types 4, 5, 6, 7, 8, 9; ``with_response``
    answers the InteractionCallback object, else 204);
    ``POST /webhooks/{app}/{token}`` (follow-up; ``wait``), ``GET|PATCH|DELETE
    /webhooks/{app}/{token}/messages/{@original|id}``;
    ``GET /channels/{id}``, ``GET|POST /channels/{id}/messages``, ``GET|PATCH|DELETE
    /channels/{id}/messages/{mid}``, ``PUT|DELETE .../messages/{mid}/reactions/{emoji}/@me``,
    ``POST /channels/{id}/typing``; ``GET /guilds/{id}``, ``GET /guilds/{id}/channels``,
    ``GET /guilds/{id}/roles``, ``GET /guilds/{id}/members/{user}``.
    Bodies are JSON or multipart/form-data with ``payload_json`` and ``files[n]`` parts
    (spooled to a temporary directory; a sent file becomes an attachment this fake
    serves). Bot routes want ``Authorization: Bot <token>`` (else 401); interaction and
    webhook routes need none, as on Discord. Unknown routes 404, wrong methods 405.
    ``GET /attachments/{id}/{filename}`` (and ``/proxy/attachments/...``, the proxy_url):
    the bytes of an attachment, streamed from disk for a ``Path``; the URL carries signed
    ``ex``/``is``/``hm`` query parameters like the real CDN, and without a valid ``hm`` the
    answer is 404 ``This content is no longer available.``
    ``GET /`` (WebSocket): the gateway, ``?v=10&encoding=json&compress=zlib-stream``.

Gateway
    HELLO (op 10) on connect; HEARTBEAT (op 1) answered by ACK (op 11); IDENTIFY (op 2)
    checked (wrong token: close 4004; ``shard`` not ``[id, count]`` with ``0 <= id <
    count``: 4010 ``Invalid shard.``; more than ``max_guilds_per_shard`` guilds on the
    shard: 4011 ``Sharding required.``; no intents: 4013; privileged intents when
    ``privileged_intents_allowed`` is False: 4014 ``Disallowed intent(s).``; twice: 4005)
    and answered by READY (the shard's guilds unavailable, ``shard`` echoed,
    ``session_id``, ``resume_gateway_url`` on this fake, ``application {id, flags}``)
    then one GUILD_CREATE per guild of the shard (roles, channels, every member,
    ``member_count`` so no chunking is needed). RESUME (op 6) replays the events after
    ``seq`` and sends RESUMED, or INVALID_SESSION ``false`` when the session is unknown,
    was closed by the client with 1000/1001, or ``resume_enabled`` is False (discord.py
    then waits 5 s in ``before_identify_hook`` before it IDENTIFYs again: override that
    hook in tests). Note that ``Client.close()`` under aiohttp 3.14 reaches the server as
    close code 4000, so its session stays resumable, as it would on Discord.
    REQUEST_GUILD_MEMBERS (op 8) gets one GUILD_MEMBERS_CHUNK; PRESENCE_UPDATE (op 3) is
    recorded. Anything else before IDENTIFY closes 4003, unknown ops 4001.
    ``compress=zlib-stream``: one zlib stream per connection, every payload flushed with
    Z_SYNC_FLUSH (ends ``00 00 ff ff``), sent as binary frames; without it, or for
    ``zstd-stream`` (which discord.py asks for when zstandard is installed), text frames,
    which discord.py accepts too. Events are sent to every identified session of their
    shard, each with its own sequence; a session whose connection dropped keeps its events
    for RESUME.

Shards
    An IDENTIFY without ``shard`` is ``[0, 1]``. As on Discord, a guild belongs to shard
    ``(guild_id >> 22) % count`` of the session's own ``[id, count]``: its GUILD_CREATE,
    messages, interactions and member chunks go only to the sessions of that shard; DMs,
    DM interactions and every event without a guild go only to shard 0. Two sessions of
    the same shard (two processes started with the same shard, or the same bot run
    twice) both get its events, as on Discord, where nothing stops the second: each
    answers, which is the deployment mistake a test can then show. An event whose shard
    has no session is sent nowhere (an interaction then times out, as on Discord).

Knobs (plain attributes, settable at any time)
    privileged_intents_allowed  True: the portal switches for members, presences and
                                message content are on; False: IDENTIFY with one closes 4014.
    resume_enabled              True; False answers every RESUME with INVALID_SESSION.
    heartbeat_interval_ms       41250, sent in HELLO.
    max_upload_bytes            10 MiB (an unboosted guild); bigger bodies get 413 40005;
                                also the interactions' ``attachment_size_limit``.
    interaction_response_timeout 3.0 s to call back, then 404 10062 Unknown interaction.
    interaction_token_lifetime  900 s for follow-ups and @original, then 401 50027.
    closed_dms                  user ids whose DMs are closed to the bot: 403 50007.
    clock                       ``time.time``; timestamps, the two limits above and
                                ``rate_limits``.
    shards                      1: ``GET /gateway/bot``'s recommended shard count.
    max_guilds_per_shard        2500, as on Discord: an IDENTIFY whose shard would hold
                                more guilds closes 4011 ``Sharding required.``
    rate_limits                 None (the default): nothing is rate-limited but by
                                ``fail_next``. ``RateLimits()``: the bot's ``POST
                                /channels/{id}/messages`` go at most
                                ``messages_per_channel=5`` per ``per_seconds=5.0`` into
                                each channel (a fixed window opened by the first of them,
                                as Discord's headers describe it; DMs too). Allowed calls
                                carry that bucket's ``X-RateLimit-*`` (limit 5, remaining
                                counting down, reset at the window's end), so discord.py
                                paces itself; past it the call does nothing and gets the
                                429 ``fail_next`` builds (``retry_after`` the seconds to
                                the reset, ``global`` false, ``X-RateLimit-Scope: user``)
                                and is listed in ``rate_limited``.
    hold(method, path_regex, where=None) -> Hold[Call]
                                the next matching call stops before it does anything
                                until the test releases it (``tests.fakes.server.Hold``:
                                ``wait_reached``, ``release(proceed=False)`` ends it with
                                no answer): where a kill test proves its kill landed.
    fail_next(method, path_regex, status=429, retry_after=0.5, times=1, global_=False,
              code=None, message=None)
                                the next ``times`` matching calls fail before doing
                                anything. 429 answers like Discord (``retry_after`` and
                                ``global`` in the body; ``Retry-After``, ``X-RateLimit-*``
                                and ``Via`` headers, which discord.py needs to retry); other
                                statuses get a usual code (403: 50013 Missing Permissions,
                                404: 10008 Unknown Message, ...) or the one given, e.g.
                                ``status=404, code=10062``.

Registries (each returns what it registered, as Discord's JSON: snowflakes are strings)
    user(id, username, *, locale="en-US", global_name=None, bot=False) -> User
    guild(id, name, *, owner_id, locale="en-US", everyone_permissions=DEFAULT_EVERYONE,
          bot_permissions=DEFAULT_BOT_PERMISSIONS) -> Guild (the bot joins it, with a
          managed role holding ``bot_permissions``; @everyone's role id is the guild id)
    role(guild_id, id, name, permissions=0) -> Role
    channel(guild_id, id, name, *, overwrites=()) -> Channel (text, type 0; overwrites as
          ``{"id", "type": 0 role | 1 member, "allow", "deny"}``)
    dm_channel(user) -> Channel (type 1)
    member(guild_id, user, *, permissions=0, roles=()) -> Member; ``permissions`` go to a
          personal role, so discord.py's own permission maths agrees with the fake's;
          ``member(guild_id, fake.bot_user, permissions=...)`` sets the bot's.
    add_attachment(content: bytes | Path, filename, content_type=None, *, spoiler=False,
          description=None) -> Attachment (a Path is streamed, never loaded whole)
    permissions(guild_id, channel_id, user_id) -> int, as Discord computes them.

Injecting (coroutines: each sends a gateway event and returns what it injected; they
raise RuntimeError while no client has ever identified, and ValueError for what a
Discord client could not send)
    slash_command(guild, channel, user, name, options=None, *, subcommand=None,
                  attachments=None, locale=None) -> Interaction: the command must be
                  synced (its id and, for a guild command, guild_id are filled in);
                  ``options`` a list of option objects or a {name: value} mapping typed
                  from the synced schema (users, channels, roles as dicts get resolved);
                  required and unknown options are checked; ``subcommand`` may be
                  "group sub"; ``locale`` defaults to the user's registered locale.
    message_command(guild, channel, user, name, target_message, *, locale=None)
    press_component(guild, channel, user, message, custom_id, *, values=None): the
                  component must be on the stored message now, enabled; select values
                  must be offered and within min/max.
    submit_modal(guild, channel, user, custom_id, values: {custom_id: str | [str]}): the
                  bot must have opened that modal for that user (type 9 callback); the
                  submission mirrors its action rows or labels; required inputs checked.
    post_message(guild, channel, user, content="", *, attachments=(), embeds=(),
                 reply_to=None) -> Message (stored; MESSAGE_CREATE; ``<@id>`` mentions)
    dispatch(event, data) -> the payload sent; close_gateway(code=4000, message=""),
    request_reconnect() (op 7), guild_payload(guild_id) (a GUILD_CREATE body: a guild
    registered after the client connected needs ``dispatch("GUILD_CREATE", ...)``).
    ``guild`` may be None for DMs (then ``channel`` is a ``dm_channel``).

Inspection
    calls: list[Call] (method, path below the API base, query, json, files, status,
    response, error); calls_to(method, path_regex); ``await wait_for(method, path_regex,
    count=1, timeout=5.0, where=None)``; ``await wait_for_response(interaction)`` ->
    Callback (type, data, files, message); response(interaction); original_response(
    interaction) and followups(interaction) (current messages, edits applied);
    ``await wait_for_followups(interaction, count=1)``; ``await wait_for_message(channel,
    where=None)`` (a new bot message there); messages(channel_id) (everyone's, oldest
    first), bot_messages(channel_id), message(channel_id, message_id), deleted,
    downloads (Download(attachment_id, filename, size, time) per CDN download), commands(
    guild_id=None), identifies, resumes, heartbeats, presences, gateway_requests (each
    connection's query), connections (live ones), ``await wait_ready(shard=None)`` (a
    session of that shard, if given), deliveries (Delivery(event, shard [id, count],
    session_id, data) per dispatch per session, READY and GUILD_CREATE included),
    shards_given(payload, event=None) (the shard of each session that got the dispatch of
    that message or interaction, by id: ``[1]`` when shard 1 alone got it), rate_limited
    (the calls ``rate_limits`` answered 429: empty when the bot never provoked one).
    Also: api_url, gateway_url, ws_url, env() (DISCORD_BOT_TOKEN / DISCORD_API_URL /
    DISCORD_GATEWAY_URL for the bot), bot_user, users; module constants TOKEN, BOT_ID,
    APPLICATION_ID, OWNER_ID, Perm and Intent (bit flags), DEFAULT_EVERYONE,
    DEFAULT_BOT_PERMISSIONS, make_token(user_id, tag).

Deliberate simplifications
    - No rate limits unless ``fail_next`` or ``rate_limits`` says so; other successful
      answers carry generous ``X-RateLimit-*`` headers (limit 50, remaining 49, reset
      after 1 s). ``rate_limits`` counts only messages actually created (a call refused
      with 4xx frees its slot) and only the channel route: interaction callbacks and
      follow-ups, which Discord limits per interaction token rather than per channel,
      edits, deletions and reactions are never limited, and there is no global 50/s
      limit. 5xx answers make discord.py sleep 1 s, 3 s... before retrying: avoid them
      in fast tests.
    - Shards route as described above; there is no identify rate limit (discord.py still
      waits 5 s before each shard's IDENTIFY after its first: tests override
      ``before_identify_hook``), and no ``max_concurrency`` buckets.
    - Intents filter only MESSAGE_* events (GUILD_MESSAGES, DIRECT_MESSAGES) and, without
      MESSAGE_CONTENT, guild messages from others that do not mention the bot arrive
      with empty content, embeds, attachments and components (as on Discord).
      Interaction payloads always carry everything. IDENTIFY's own ``compress`` flag is
      ignored (only transport compression is done).
    - The bot's own REST actions come back as MESSAGE_CREATE/UPDATE/DELETE events, as on
      Discord (ephemeral messages do not).
    - After a DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE (5) callback, the first follow-up fills
      the loading @original (keeping the defer's ephemerality), as Discord does: it is the
      @original *and* listed by followups(). A modal's submission must answer a modal the
      bot opened for that user (type 9 callback), mirroring its rows or labels.
    - Checks are the ones a bot trips on: content 2000, 10 embeds / 6000 characters and
      their field limits, 5 action rows of 5 buttons, custom_id 100 and unique, empty
      message (50006), the bot's permissions in the channel (VIEW_CHANNEL 50001,
      SEND_MESSAGES / ATTACH_FILES / MANAGE_MESSAGES 50013), editing another's message
      (50005), ephemeral messages hidden from channel routes (10008), one callback per
      interaction (40060). Components v2 payloads are stored unchecked. Embeds'
      ``attachment://name`` URLs are rewritten to the attachment's URL.
    - Message ids are snowflakes from the clock; everything else (users, guilds, roles,
      channels) keeps the ids the test gives. Attachment URLs do not expire.
"""

from __future__ import annotations

from tests.fakes.discord.constants import (
    ALL_PERMISSIONS,
    APPLICATION_ID,
    BOT_ID,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE,
    OWNER_ID,
    TOKEN,
    Intent,
    Perm,
    make_token,
)
from tests.fakes.discord.fake import DiscordFake
from tests.fakes.discord.limits import RateLimits
from tests.fakes.discord.models import (
    ApiError,
    Call,
    Callback,
    Delivery,
    Download,
    UploadedFile,
)

# The other public names of the former single module, still importable from here.
# isort: off
from tests.fakes.discord.constants import (
    JSON as JSON,
    MIB as MIB,
    READ_CHUNK as READ_CHUNK,
    DISCORD_EPOCH_MS as DISCORD_EPOCH_MS,
    API_VERSION as API_VERSION,
    BOT_USERNAME as BOT_USERNAME,
    DM_PERMISSIONS as DM_PERMISSIONS,
    PRIVILEGED_INTENTS as PRIVILEGED_INTENTS,
    OP_DISPATCH as OP_DISPATCH,
    OP_HEARTBEAT as OP_HEARTBEAT,
    OP_IDENTIFY as OP_IDENTIFY,
    OP_PRESENCE_UPDATE as OP_PRESENCE_UPDATE,
    OP_VOICE_STATE_UPDATE as OP_VOICE_STATE_UPDATE,
    OP_RESUME as OP_RESUME,
    OP_RECONNECT as OP_RECONNECT,
    OP_REQUEST_GUILD_MEMBERS as OP_REQUEST_GUILD_MEMBERS,
    OP_INVALID_SESSION as OP_INVALID_SESSION,
    OP_HELLO as OP_HELLO,
    OP_HEARTBEAT_ACK as OP_HEARTBEAT_ACK,
    PING as PING,
    APPLICATION_COMMAND as APPLICATION_COMMAND,
    MESSAGE_COMPONENT as MESSAGE_COMPONENT,
    AUTOCOMPLETE as AUTOCOMPLETE,
    MODAL_SUBMIT as MODAL_SUBMIT,
    CHANNEL_MESSAGE_WITH_SOURCE as CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE as DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_UPDATE_MESSAGE as DEFERRED_UPDATE_MESSAGE,
    UPDATE_MESSAGE as UPDATE_MESSAGE,
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT as APPLICATION_COMMAND_AUTOCOMPLETE_RESULT,
    MODAL as MODAL,
    SUPPRESS_EMBEDS as SUPPRESS_EMBEDS,
    EPHEMERAL as EPHEMERAL,
    LOADING as LOADING,
    SUPPRESS_NOTIFICATIONS as SUPPRESS_NOTIFICATIONS,
    IS_COMPONENTS_V2 as IS_COMPONENTS_V2,
    SUB_COMMAND as SUB_COMMAND,
    SUB_COMMAND_GROUP as SUB_COMMAND_GROUP,
    OPTION_STRING as OPTION_STRING,
    OPTION_INTEGER as OPTION_INTEGER,
    OPTION_BOOLEAN as OPTION_BOOLEAN,
    OPTION_USER as OPTION_USER,
    OPTION_CHANNEL as OPTION_CHANNEL,
    OPTION_ROLE as OPTION_ROLE,
    OPTION_MENTIONABLE as OPTION_MENTIONABLE,
    OPTION_NUMBER as OPTION_NUMBER,
    OPTION_ATTACHMENT as OPTION_ATTACHMENT,
    CHAT_INPUT as CHAT_INPUT,
    USER_COMMAND as USER_COMMAND,
    MESSAGE_COMMAND as MESSAGE_COMMAND,
    ACTION_ROW as ACTION_ROW,
    BUTTON as BUTTON,
    STRING_SELECT as STRING_SELECT,
    TEXT_INPUT as TEXT_INPUT,
    LABEL as LABEL,
    LINK_BUTTON_STYLE as LINK_BUTTON_STYLE,
)
from tests.fakes.discord.models import (
    form_error as form_error,
    too_long as too_long,
    bad_length as bad_length,
    NO_CONTENT as NO_CONTENT,
)
# isort: on

__all__ = [
    "ALL_PERMISSIONS",
    "APPLICATION_ID",
    "BOT_ID",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE",
    "OWNER_ID",
    "TOKEN",
    "ApiError",
    "Call",
    "Callback",
    "Delivery",
    "DiscordFake",
    "Download",
    "Intent",
    "Perm",
    "RateLimits",
    "UploadedFile",
    "make_token",
]
