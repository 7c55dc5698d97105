"""The Telegram bot: built from settings and core, every handler registered here.

async with telegram_bot(settings, core):
    ...  # polling or webhook runs until the block ends
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bots.telegram.admins import AdminCache
from bots.telegram.albums import AlbumCollector
from bots.telegram.answer_queue import answer_queue
from bots.telegram.answers import CODES, DELETE, DELETE_NO, DELETE_YES
from bots.telegram.chat_actions import chat_actions, sign_of_life
from bots.telegram.deps import DEPS_KEY, Deps
from bots.telegram.files import BOT_API_FILE_LIMIT_MB, SCHEME, TelegramFiles
from bots.telegram.handlers import (
    buttons,
    commands,
    gallery,
    inline,
    keys,
    mirror,
    settings,
    sharex,
    stats,
    uploads,
)
from bots.telegram.handlers.errors import on_error
from bots.telegram.inbox import InboxApplication, InboxQueue, KeptFirstRequest, replayer
from bots.telegram.limits import MessageRateLimiter, OncePer
from bots.telegram.uploading import resumed_answerer
from core.errors import ConfigurationError
from core.i18n import N_, translator
from core.messages import Hints, api_key_page
from core.reach import reach
from core.refs import Platform
from core.runtime import Core
from core.settings import Settings

log = logging.getLogger(__name__)

CLOUD_API_URL = "https://api.telegram.org/bot"
CLOUD_FILE_LIMIT = BOT_API_FILE_LIMIT_MB * 1024 * 1024
POLLING_TROUBLE_EVERY_S = 60.0
"""How often the same trouble getting updates (a second poller, the network) is said."""

MEDIA = (
    filters.PHOTO
    | filters.VIDEO
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.Sticker.ALL
    | filters.VIDEO_NOTE
    | filters.AUDIO
    | filters.VOICE
)
LINKS = filters.Entity("url") | filters.Entity("text_link")
COMMANDS = (
    ("start", N_("Start")),
    ("help", N_("What I do and how")),
    ("setkey", N_("Store your picloud API key")),
    ("delkey", N_("Forget your API key")),
    ("me", N_("Your key, settings and uploads")),
    ("upload", N_("Upload the message you reply to")),
    ("mirror", N_("Group admins: upload every media message")),
    ("settings", N_("Default expiry, nsfw, album, language")),
    ("history", N_("Your last 10 uploads")),
    ("sharex", N_("A ShareX uploader with your key")),
    ("stats", N_("Group admins: uploads of the last 7 and 30 days")),
    ("gallery", N_("Your uploads in a gallery: search, copy, delete")),
)


def build_application(settings: Settings, core: Core) -> InboxApplication:
    assert settings.telegram_bot_token is not None
    polling = settings.telegram_webhook_url is None
    queue = InboxQueue(core.service.inbox, wait_until_kept=not polling)
    application = (
        ApplicationBuilder()
        .application_class(InboxApplication)
        .update_queue(queue)
        .get_updates_request(KeptFirstRequest(queue))
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .rate_limiter(MessageRateLimiter(max_retries=3, shared=core.shared_budget))
        .concurrent_updates(True)
        # Every answer replies to what it answers, in private chats too.
        .defaults(Defaults(do_quote=True))
        .build()
    )
    assert isinstance(application, InboxApplication)
    actions = chat_actions(application.bot)
    application.inbox_queue.on_arrival = partial(sign_of_life, actions)
    on_cloud = settings.telegram_api_url.rstrip("/") == CLOUD_API_URL.rstrip("/")
    application.bot_data[DEPS_KEY] = Deps(
        service=core.service,
        profiles=core.profiles,
        files=TelegramFiles(
            application.bot, core.http, download_limit=CLOUD_FILE_LIMIT if on_cloud else None
        ),
        links=core.links,
        admins=AdminCache(),
        albums=AlbumCollector(),
        answers=answer_queue(application.bot, actions),
        chat_actions=actions,
        hints=Hints(
            set_key="/setkey KEY",
            settings_url=api_key_page(settings.api_url),
        ),
        sharex=core.sharex,
        statistics=core.statistics,
        gallery=core.gallery,
    )
    register_handlers(application)
    return application


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    application.add_handlers(
        [
            CommandHandler("start", commands.start),
            CommandHandler("help", commands.help_command),
            CommandHandler("me", commands.me),
            CommandHandler("setkey", keys.setkey),
            CommandHandler("delkey", keys.delkey),
            CommandHandler("upload", uploads.upload_command),
            CommandHandler("mirror", mirror.mirror),
            CommandHandler("settings", settings.settings),
            CommandHandler("history", settings.history),
            CommandHandler("sharex", sharex.sharex),
            CommandHandler("stats", stats.stats),
            CommandHandler("gallery", gallery.gallery),
            CallbackQueryHandler(buttons.delete_pressed, pattern=rf"^{DELETE}:"),
            CallbackQueryHandler(buttons.delete_confirmed, pattern=rf"^{DELETE_YES}:"),
            CallbackQueryHandler(buttons.delete_cancelled, pattern=rf"^{DELETE_NO}:"),
            CallbackQueryHandler(buttons.codes_pressed, pattern=rf"^{CODES}:"),
            CallbackQueryHandler(settings.setting_pressed, pattern=rf"^{settings.SETTING}:"),
            CallbackQueryHandler(buttons.unknown_pressed),  # after every known pattern
            InlineQueryHandler(inline.search),
            MessageHandler(private & (MEDIA | LINKS) & ~filters.COMMAND, uploads.private_message),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, commands.private_text),
            MessageHandler(groups & MEDIA, uploads.group_media),
            MessageHandler(filters.UpdateType.CHANNEL_POST & MEDIA, uploads.channel_post),
        ]
    )
    application.add_error_handler(on_error)


async def register_commands(application: Application) -> None:  # type: ignore[type-arg]
    """The command menu, in English by default and in each translated language."""
    for language in (None, "ru"):
        _ = translator(language)
        menu = [BotCommand(name, _(description)) for name, description in COMMANDS]
        await application.bot.set_my_commands(menu, language_code=language)


@asynccontextmanager
async def telegram_bot(settings: Settings, core: Core) -> AsyncIterator[InboxApplication]:
    """Start the bot (polling, or webhook when TELEGRAM_WEBHOOK_URL is set); stop on exit."""
    application = build_application(settings, core)
    await _reach_bot_api(application)
    async with application:
        found: Deps = application.bot_data[DEPS_KEY]
        found.bot_username = application.bot.username
        core.service.register_opener(SCHEME, found.files.reopen)
        await register_commands(application)
        await application.start()
        try:  # a stop that comes while this starts up stops what did start
            await _start_updates(application, settings)
            resumed = await core.service.resume(
                Platform.TELEGRAM,
                resumed_answerer(application.bot, found),
                replayer(application.inbox_queue, application.bot),
            )
            log.info("telegram bot @%s is up; %d uploads resumed", found.bot_username, resumed)
            yield application
        finally:
            await stop_updates(application)
            await application.stop()


async def _reach_bot_api(application: Application) -> None:  # type: ignore[type-arg]
    """PTB's initialize (getMe), waiting for a Bot API that does not answer yet. A
    refused token ends the start with one line: PTB's own message quotes the token."""

    async def get_me() -> None:
        try:
            await application.initialize()
        except BadRequest as error:  # a NetworkError to PTB, but an answer: not waited for
            raise ConfigurationError(f"the Bot API refused getMe: {error.message}") from None

    try:
        await reach("Telegram's Bot API", get_me, (NetworkError,))
    except InvalidToken:
        raise ConfigurationError(
            "Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather"
        ) from None


_TOLD = OncePer(POLLING_TROUBLE_EVERY_S)


def _polling_trouble(error: TelegramError) -> None:
    """getUpdates failed; python-telegram-bot tries again with backoff. Said in one line
    (no traceback), once a minute per kind of trouble."""
    if isinstance(error, Conflict):
        kind, text = (
            "conflict",
            (
                "another process polls this bot's token (Telegram answered 409 Conflict): only "
                "one may; stop the other, or run several instances in webhook mode"
            ),
        )
    else:
        kind, text = type(error).__name__, f"getting updates failed ({error.message}); retrying"
    if _TOLD.allow(kind):
        log.warning(text)


async def stop_updates(application: Application) -> None:  # type: ignore[type-arg]
    """Take no new updates (polling stops; the webhook server closes)."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()


async def _start_updates(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    assert application.updater is not None
    if settings.telegram_webhook_url is None:
        await application.updater.start_polling(
            allowed_updates=Update.ALL_TYPES, error_callback=_polling_trouble
        )
        return
    if settings.telegram_webhook_secret is None:
        raise ConfigurationError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
    host, _sep, port = settings.telegram_webhook_listen.rpartition(":")
    await application.updater.start_webhook(
        listen=host or "0.0.0.0",  # noqa: S104 - the webhook server is meant to be reachable
        port=int(port),
        url_path=urlsplit(settings.telegram_webhook_url).path.lstrip("/"),
        webhook_url=settings.telegram_webhook_url,
        secret_token=settings.telegram_webhook_secret.get_secret_value(),
        allowed_updates=Update.ALL_TYPES,
    )
