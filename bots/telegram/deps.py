"""What every handler needs, built once in ``app.py`` and kept in ``bot_data``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from telegram import CallbackQuery, Update, User
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bots.telegram.admins import AdminCache
from bots.telegram.albums import AlbumCollector
from bots.telegram.answer_queue import NewAnswer
from bots.telegram.chat_actions import ChatActions
from bots.telegram.files import TelegramFiles
from bots.telegram.limits import OncePer
from core.i18n import Translator, language_of, translator
from core.links import LinkFetcher
from core.messages import Hints
from core.pacing import AnswerQueue
from core.refs import ChatId, ChatRef, Platform, UserId, UserRef
from core.service.gallery import GalleryPasses
from core.service.profiles import Profiles
from core.service.stats import Statistics
from core.service.uploads import UploadService
from core.sharex import ShareX

log = logging.getLogger(__name__)

DEPS_KEY = "picloud"
STRAY_HINT_EVERY_S = 60.0


@dataclass(slots=True)
class Deps:
    service: UploadService
    profiles: Profiles
    files: TelegramFiles
    links: LinkFetcher
    admins: AdminCache
    albums: AlbumCollector
    answers: AnswerQueue[NewAnswer]
    chat_actions: ChatActions
    hints: Hints
    sharex: ShareX
    statistics: Statistics
    gallery: GalleryPasses
    bot_username: str = ""
    stray_hints: OncePer = field(default_factory=lambda: OncePer(STRAY_HINT_EVERY_S))
    """The pointer to /help answered to texts we don't use: once a minute per chat."""


def deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    found: Deps = context.bot_data[DEPS_KEY]
    return found


def user_ref(user: User) -> UserRef:
    return UserRef(Platform.TELEGRAM, UserId(str(user.id)))


def chat_ref(chat_id: int) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, ChatId(str(chat_id)))


async def translator_for(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
    return translator(await language_for(update, context))


async def language_for(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The user's chosen language if they set one, else their Telegram client's."""
    user = update.effective_user
    if user is None:
        return language_of(None)
    prefs = await deps(context).profiles.preferences(user_ref(user))
    return language_of(prefs.language or user.language_code)


async def acknowledge(
    query: CallbackQuery, text: str | None = None, *, alert: bool = False
) -> None:
    """Answer a button press. A press handled again after a restart is too old for an
    answer (Telegram allows seconds): the work it asked for goes on regardless."""
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as error:
        log.info("a button press could not be answered: %s", error.message)
