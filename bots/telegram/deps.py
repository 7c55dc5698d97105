"""What every handler needs, built once in ``app.py`` and kept in ``bot_data``."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update, User
from telegram.ext import ContextTypes

from bots.telegram.admins import AdminCache
from bots.telegram.albums import AlbumCollector
from bots.telegram.files import TelegramFiles
from core.i18n import Translator, translator
from core.links import LinkFetcher
from core.messages import Hints
from core.refs import ChatId, ChatRef, Platform, UserId, UserRef
from core.service.profiles import Profiles
from core.service.uploads import UploadService

DEPS_KEY = "picloud"


@dataclass(slots=True)
class Deps:
    service: UploadService
    profiles: Profiles
    files: TelegramFiles
    links: LinkFetcher
    admins: AdminCache
    albums: AlbumCollector
    hints: Hints
    bot_username: str = ""


def deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    found: Deps = context.bot_data[DEPS_KEY]
    return found


def user_ref(user: User) -> UserRef:
    return UserRef(Platform.TELEGRAM, UserId(str(user.id)))


def chat_ref(chat_id: int) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, ChatId(str(chat_id)))


async def translator_for(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
    """The user's chosen language if they set one, else their Telegram client's."""
    user = update.effective_user
    if user is None:
        return translator(None)
    prefs = await deps(context).profiles.preferences(user_ref(user))
    return translator(prefs.language or user.language_code)
