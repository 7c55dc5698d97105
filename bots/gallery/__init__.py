"""The web gallery (issue 10): a user's uploads in a browser, opened from ``/gallery``,
served beside /healthz on ``PICLOUD_HTTP_LISTEN``. ``server.py`` has its routes,
``page.py`` its page, ``telegram_sign_in.py`` the Mini App sign-in check; the passes
themselves are ``core/service/gallery.py``."""
