"""A Telegram Bot API fake, for end-to-end tests that run the real python-telegram-bot.

It serves the Bot API over real HTTP on 127.0.0.1 (aiohttp), answering as the cloud
API does closely enough that PTB 22 runs against it unmodified::

    async with TelegramFake(token=TOKEN) as fake:
        app = (
            ApplicationBuilder().token(TOKEN)
            .base_url(fake.api_url)          # f"{fake.base_url}/bot"
            .base_file_url(fake.file_url)    # f"{fake.base_url}/file/bot"
            .build()
        )
        # a bot in another process: fake.env() gives TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL
        # and TELEGRAM_FILE_URL

Routes
    ``/bot{token}/{method}``        any HTTP method; parameters from the query string and
                                    a JSON, urlencoded or multipart/form-data body
                                    (file parts are spooled to a temporary directory)
    ``GET /file/bot{token}/{path}`` the bytes of a registered file, streamed (a file
                                    registered as a ``Path`` is never loaded whole); 404
                                    for unknown paths
    Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
    "description": "...", "parameters": {"retry_after": N}}`` with N as the HTTP status.
    A wrong token of the right shape gets 401 Unauthorized, a malformed one 404, an
    unknown method 404 Not Found (method names are case-insensitive, as on the server),
    parameters of the wrong shape 400.

Methods
    getMe, logOut, close, getUpdates (long polling), setWebhook, deleteWebhook,
    getWebhookInfo, setMyCommands, getMyCommands, deleteMyCommands, setMyDescription,
    getMyDescription, setMyShortDescription, getMyShortDescription, setMyName, getMyName;
    sendMessage, sendPhoto, sendDocument, sendVideo, sendAnimation, sendAudio, sendVoice,
    sendSticker, sendMediaGroup, copyMessage, forwardMessage, editMessageText,
    editMessageCaption, editMessageReplyMarkup, editMessageMedia, deleteMessage,
    deleteMessages, sendChatAction, answerCallbackQuery, answerInlineQuery (results by URL
    checked for the fields their type needs, at most 50, ids unique and 1-64 bytes;
    documents by URL PDF or ZIP only), getFile; getChat,
    getChatMember, getChatAdministrators, getChatMemberCount. Accepted and answered
    ``true`` without a model: setChatMenuButton, setMyDefaultAdministratorRights,
    setMessageReaction, pinChatMessage, unpinChatMessage, unpinAllChatMessages, leaveChat.

Knobs (plain attributes, settable at any time)
    privacy_mode          True (the real default): getMe answers
                          ``can_read_all_group_messages: false`` and group messages the
                          bot would not see are withheld (see below).
    blocked_chats         chat ids whose sends get 403 ``Forbidden: bot was blocked by
                          the user``.
    max_download_bytes    getFile refuses larger files with 400 ``Bad Request: file is
                          too big`` (default 20 MiB, the server's ``20 << 20``).
    max_upload_bytes      a larger file part gets 413 ``Request Entity Too Large``
                          (default 50 MiB).
    clock                 ``time.time``; the source of every ``date`` and of the rate
                          limits' time.
    rate_limits           None (the default): nothing is rate-limited but by
                          ``fail_next``. ``RateLimits()`` enforces Telegram's message
                          limits for the bot: calls that send or edit a message (send
                          <Media>, sendMessage, sendMediaGroup, copyMessage,
                          forwardMessage, editMessageText/Caption/ReplyMarkup/Media; not
                          deleteMessage, sendChatAction, getFile, answerCallbackQuery or
                          any other) go at most ``per_second=30`` per rolling second over
                          all chats; into a private chat from a token bucket of
                          ``private_burst=3`` refilled at ``private_per_second=1.0``;
                          into a group or supergroup ``group_per_minute=20`` per rolling
                          60 s. Past a limit the call does nothing and gets 429 ``Too
                          Many Requests: retry after N`` with ``parameters.retry_after``
                          N, the whole seconds (at least 1) until it would go through; it
                          is listed in ``rate_limited``. ``fail_next`` comes first.
    fail_next(method, error_code=429, description=None, retry_after=None, times=1)
                          the next ``times`` calls of ``method`` fail before doing
                          anything; 429 defaults to ``Too Many Requests: retry after 1``
                          with ``parameters.retry_after``.
    hold(method, where=None) -> Hold
                          the next call of ``method`` (case-insensitive) for which
                          ``where(call)`` is true (the Call with its params decoded) is
                          paused right after its parameters are read, before anything
                          else (``fail_next`` included): it has no effect yet. It goes on
                          as usual at ``release()`` (it is recorded when it completes,
                          as every call is), even if its client is gone by then.
    hold_after(method, where=None) -> Hold
                          the next matching call does its work and is recorded (the
                          message is sent or edited in the fake's state; ``where`` sees
                          ``result`` or ``error_code`` too), but its HTTP answer is held
                          back until ``release()``: "done, but the bot never saw the
                          reply".
                          A Hold (tests/fakes/server.py): ``reached``, ``await
                          wait_reached(timeout=10) -> Call`` (TimeoutError listing the
                          calls seen), ``release()``, ``release(proceed=False)`` (the
                          call ends there, its connection closed with no answer: held
                          before, it never took effect and is not recorded). Each hold
                          stops one call; holds still waiting at ``stop`` end as
                          ``proceed=False`` does.

Registering chats, users and files (each returns what it registered)
    user(id, first_name, language_code="en", username=None) -> dict (a User)
    private_chat(user) -> dict, group(chat_id, title, supergroup=True) -> dict (a Chat;
    the bot is a plain member of a new group), channel(chat_id, title, username=None)
    (the bot is not in it until set_member; as an admin there it may edit any post,
    unless ``can_edit_messages=False``)
    set_member(chat_id, user_id, status="member", **rights): "creator", "administrator"
    (all usual rights on unless given, e.g. ``can_delete_messages=False``), "member",
    "restricted", "left", "kicked"; the bot's own id sets the bot's membership.
    add_file(content: bytes | Path, *, file_id=None, unique_id=None, file_path=None)
    -> FileRef (a Path is read from disk only when downloaded).
    The bot can send only to registered chats (else 400 ``chat not found``, or 403
    ``bot can't initiate conversation with a user`` for a user without a private chat);
    injected updates register their chat and user, and make both members of a group.

Injecting updates (each queues an Update with a fresh update_id and returns it)
    send_text, send_photo, send_document, send_video, send_animation, send_sticker,
    send_audio, send_voice (all take ``reply_to=`` a message id or dict, ``forward=``
    True, a user dict or a channel chat dict), post_photo(channel, content, caption=None)
    (a ``channel_post``, delivered only when the bot is a member), press_button,
    inline_query(user, query,
    offset=""), my_chat_member,
    chat_member. A text's leading /command, @mentions and http(s) links get entities,
    as the clients send them. ``await deliver_webhook(update, secret_token=...)`` POSTs
    an update to the registered webhook and answers the HTTP status.

Inspection
    calls: list[Call] (every call with the right token, in the order its answer was
    decided; getUpdates when it arrives). A Call has method, params (JSON-decoded),
    files (field -> UploadedFile(filename, size, content_type, path)), time,
    error_code/description (None when ok), result, and ``source(field)``: "upload",
    "url" or "file_id", how a file parameter was given.
    calls_to(method), ``await wait_for(method, count=1, timeout=5.0, where=None)``
    (TimeoutError naming the calls seen), messages(chat_id) (the bot's current
    messages, edits applied, deleted ones gone), message(chat_id, message_id) (any
    message, the users' too), file(file_id), deleted, downloads, callback_answers,
    inline_answers (query id -> results, next_offset, is_personal, cache_time, button),
    webhook, pending_updates, withheld, my_commands(language_code="", scope=None),
    rate_limited (the calls the ``rate_limits`` answered 429: empty when the bot never
    provoked one).

Deliberate simplifications
    - Nothing is rate-limited unless ``fail_next`` or ``rate_limits`` says so. Under
      ``rate_limits`` only messages actually sent or edited count (a call refused with
      400, 403 or 429 does not), an album counts as one message, an inline-message edit
      counts only towards the overall limit, and there are no other limits (the
      server's own, e.g. on bulk notifications or paid broadcasts, are not modelled;
      nor are Telegram's occasional 429s below these numbers). Files sent by URL are not
      fetched (a placeholder stands for them); uploads are stored as sent (no
      re-encoding), so a sent photo's largest size is the uploaded file itself.
    - A photo has two smaller sizes (boxes of 90 and 320 pixels, fewer for tiny
      images) that are real small JPEGs; for a tiny photo their ``file_size`` can
      exceed the largest one's, so pick ``photo[-1]`` as Telegram's own clients do.
    - parse_mode HTML is parsed strictly the way the server's parser does (tags, the
      four named entities and numeric ones, byte offsets in errors); Markdown and
      MarkdownV2 text is stored as sent, unchecked. URLs, @mentions and /commands in the
      bot's own text get entities where no other entity covers them.
    - An edit without ``reply_markup`` removes the inline keyboard, as on the server.
      Only inline keyboards are kept on messages (reply keyboards are in the call).
    - Privacy mode: in groups where the bot is neither admin nor creator, only
      commands (bare or addressed to this bot), replies to the bot's messages and
      messages that @mention it are delivered; the rest go to ``withheld``.
    - Updates are never pushed to a webhook on their own: tests call
      ``deliver_webhook``. A set webhook still makes getUpdates a 409, and any URL
      with http or https is accepted (the real server wants HTTPS on 443/80/88/8443).
    - Message ids count per chat, shared by the bot and the users. Inline-message
      edits answer ``true`` and are not stored. Sends to a blocked chat fail; edits
      and deletions there do not. Missing required parameters read
      ``Bad Request: <name> is empty``.

Modules
    models      constants (TOKEN, BOT_ID...), Call, FileRef, Download, Webhook, ApiError,
                UploadedFile
    text        UTF-16 offsets, entity detection, the strict HTML parser
    requests    reading JSON, urlencoded and multipart parameters, spooling file parts
    limits      RateLimits (the ``rate_limits`` knob's numbers), the methods they count,
                MessageLimiter (the bookkeeping)
    state       FakeState: registries, lookups and the update queue the parts share
    updates     UpdateInjection: send_text, send_photo..., press_button, member updates,
                deliver_webhook
    methods     BotMethods: getMe, commands, getUpdates, webhooks, chats, getFile...
    messages    MessageMethods: sending, copying, editing and deleting messages
    fake        TelegramFake: the parts above, the HTTP side, the knobs and the inspection
                helpers
"""

from tests.fakes.telegram.fake import TelegramFake
from tests.fakes.telegram.limits import LIMITED_METHODS, RateLimits
from tests.fakes.telegram.models import (
    BOT_ID,
    BOT_NAME,
    BOT_USERNAME,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    FIRST_UPDATE_ID,
    JSON,
    MIB,
    READ_CHUNK,
    TEXT_LIMIT,
    TOKEN,
    ApiError,
    Call,
    Download,
    FileRef,
    UploadedFile,
    Webhook,
)
from tests.fakes.telegram.requests import decode_form_value, decode_json_value, read_params
from tests.fakes.telegram.text import (
    EntityParseError,
    decode_character,
    detect_entities,
    parse_html,
    utf16_len,
)

__all__ = [
    "BOT_ID",
    "BOT_NAME",
    "BOT_USERNAME",
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "FIRST_UPDATE_ID",
    "JSON",
    "LIMITED_METHODS",
    "MIB",
    "READ_CHUNK",
    "TEXT_LIMIT",
    "TOKEN",
    "ApiError",
    "Call",
    "Download",
    "EntityParseError",
    "FileRef",
    "RateLimits",
    "TelegramFake",
    "UploadedFile",
    "Webhook",
    "decode_character",
    "decode_form_value",
    "decode_json_value",
    "detect_entities",
    "parse_html",
    "read_params",
    "utf16_len",
]
