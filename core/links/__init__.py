"""Links in messages: finding them, and fetching them without being turned against
our own network.

- :mod:`core.links.find`: :func:`find_links`, the http(s) links of a text.
- :mod:`core.links.fetcher`: :class:`LinkFetcher`, a link in, an upload source out.
- :mod:`core.links.guard`: which addresses a link may reach.
- :mod:`core.links.transport`: the httpx client that connects only there.
- :mod:`core.links.spool`: bounded memory for bodies of any size.
- :mod:`core.links.media`: what a body is and what to call it.
"""

from core.links.fetcher import LINK_SCHEME, FetchedLink, LinkFetcher, link_ref
from core.links.find import find_links
from core.links.guard import AddressGuard, is_public_address, system_resolver
from core.links.media import ACCEPTED_TYPES

__all__ = [
    "ACCEPTED_TYPES",
    "LINK_SCHEME",
    "AddressGuard",
    "FetchedLink",
    "LinkFetcher",
    "find_links",
    "is_public_address",
    "link_ref",
    "system_resolver",
]
