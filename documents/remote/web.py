"""Fetching a URL safely: scheme, length, domain lists, public addresses, limits.

Every refusal is a WebError carrying the web fetch tool's error code, so a person
sees the same vocabulary whether Cairn or Claude fetched the page. The connection
goes to the very address that was vetted (no second DNS lookup), on every redirect
hop, so neither a redirect nor DNS rebinding can reach an internal service.
"""

from __future__ import annotations

import http.client
import ipaddress
import posixpath
import socket
import ssl
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from django.utils import timezone

from documents.ingestion.html_text import html_title
from documents.remote.intranet import Allowlist, is_metadata_address, is_metadata_host

INVALID_INPUT = "invalid_input"
URL_TOO_LONG = "url_too_long"
URL_NOT_ALLOWED = "url_not_allowed"
URL_NOT_ACCESSIBLE = "url_not_accessible"
UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"

MAX_URL_CHARS = 250
# How long adding a URL waits for DNS before leaving the address check to the fetch.
RESOLVE_NOW_S = 3.0
NO_INTRANET = Allowlist()
CONTENT_TYPES = frozenset({"text/html", "text/plain", "application/pdf"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_READ_BLOCK = 64 * 1024
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Ranges the ipaddress flags miss or that embed another address to check.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Refused whatever the Python version's flags say: CGNAT (Alibaba's metadata
# service lives at 100.100.100.200), IETF protocol assignments (Oracle's metadata
# at 192.0.0.192), benchmarking, and cloud metadata addresses.
_ALWAYS_INTERNAL = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "192.0.0.0/24",
        "198.18.0.0/15",
        "fd00:ec2::/32",
        "fc00::/7",
        "fe80::/10",
    )
)


class WebError(Exception):
    """A URL Cairn will not or could not fetch; code is the web fetch tool's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts, with the host in ASCII (punycode) form."""

    url: str
    scheme: str
    host: str
    port: int
    path: str


@dataclass
class Fetched:
    """A fetched page: the bytes, their type, the final URL and when."""

    url: str
    data: bytes
    mime_type: str
    charset: str | None
    title: str
    retrieved_at: datetime


# Domain lists ------------------------------------------------------------------


def normalise_domain_entry(entry: str) -> str:
    """An allow/block list entry as 'host[/path]' in lower case, or ValueError."""
    value = entry.strip()
    if not value:
        raise ValueError("empty entry")
    if "://" in value or value.lower().startswith(("http:", "https:")):
        raise ValueError(f"{value!r}: leave out the scheme (write example.com)")
    if not value.isascii():
        raise ValueError(
            f"{value!r} is not ASCII; write its punycode form "
            f"({_punycode_hint(value)}) so look-alike letters cannot hide"
        )
    host, _, path = value.partition("/")
    host = host.lower().rstrip(".")
    if not host or any(ch in host for ch in ":@ \t") or ".." in host:
        raise ValueError(f"{value!r} is not a domain")
    return host + ("/" + path if path else "")


def _punycode_hint(value: str) -> str:
    host, _, path = value.partition("/")
    try:
        return host.encode("idna").decode("ascii") + ("/" + path if path else "")
    except UnicodeError:
        return "no valid punycode form"


def domain_matches(entry: str, host: str, path: str) -> bool:
    """Whether host+path falls under an entry: subdomains and subpaths included."""
    domain, _, prefix = entry.partition("/")
    if host != domain and not host.endswith("." + domain):
        return False
    if not prefix:
        return True
    wanted = "/" + prefix.rstrip("/")
    return path == wanted or path.startswith(wanted + "/")


def check_domain_lists(
    host: str, path: str, *, allowed: Iterable[str], blocked: Iterable[str]
) -> None:
    """Refuse host+path unless the lists let it through."""
    allowed, blocked = list(allowed), list(blocked)
    if allowed and blocked:
        raise WebError(
            INVALID_INPUT, "Use allowed_domains or blocked_domains, not both."
        )
    if allowed and not any(domain_matches(e, host, path) for e in allowed):
        raise WebError(
            URL_NOT_ALLOWED, f"{host} is not in this workspace's allowed domains."
        )
    if any(domain_matches(e, host, path) for e in blocked):
        raise WebError(URL_NOT_ALLOWED, f"{host} is blocked in this workspace.")


# URL and address checks --------------------------------------------------------


def check_url(
    url: str, *, allowed: Iterable[str] = (), blocked: Iterable[str] = ()
) -> Target:
    """Check a URL's form and the domain lists, without touching the network."""
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise WebError(
            URL_TOO_LONG, f"The URL is {len(url)} characters; the limit is 250."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebError(INVALID_INPUT, f"Not a valid URL: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebError(
            URL_NOT_ALLOWED if scheme else INVALID_INPUT,
            "Only http:// and https:// URLs can be added.",
        )
    if parts.username is not None or parts.password is not None:
        # "https://docs.example.com@evil.test/" reads as one host and goes to another.
        raise WebError(INVALID_INPUT, "URLs with a user name or password are refused.")
    raw_host = parts.hostname or ""
    if not raw_host or any(ch.isspace() for ch in url):
        raise WebError(INVALID_INPUT, "Not a valid URL: it has no host.")
    if not raw_host.isascii():
        raise WebError(
            URL_NOT_ALLOWED,
            f"The domain {raw_host!r} has non-ASCII letters (punycode "
            f"{_punycode_hint(raw_host)}); look-alike domains are refused.",
        )
    host = raw_host.lower().rstrip(".")
    path = unquote(parts.path or "/")
    # Normalise dot segments so /blog/../admin cannot pass an allow-list of /blog.
    path = posixpath.normpath("/" + path.lstrip("/"))
    check_domain_lists(host, path, allowed=allowed, blocked=blocked)
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=path,
    )


def is_public_address(address: IPAddress) -> bool:
    """Whether an address is a public unicast one (embedded IPv4 checked too)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
        if address.teredo is not None or address in _NAT64_LOCAL:
            return False
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    same_family = (n for n in _ALWAYS_INTERNAL if n.version == address.version)
    if any(address in network for network in same_family):
        return False
    internal = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return not internal and address.is_global


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (tests replace this)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _resolved(target: Target) -> list[IPAddress]:
    literal = _literal(target.host)
    if literal is not None:
        return [literal]
    try:
        addresses = [
            ipaddress.ip_address(a.split("%")[0])
            for a in resolve(target.host, target.port)
        ]
    except (OSError, UnicodeError, ValueError):
        raise WebError(
            URL_NOT_ACCESSIBLE, f"{target.host} could not be resolved."
        ) from None
    if not addresses:
        raise WebError(URL_NOT_ACCESSIBLE, f"{target.host} has no address.")
    return addresses


def check_addresses(
    target: Target, addresses: list[IPAddress], intranet: Allowlist
) -> None:
    """Refuse unless every address is public or allowed by the workspace's list.

    Every address must pass: a name with one private address among public
    ones is a rebinding trick waiting for the right lookup. Metadata services
    are refused even where the test-only exemptions apply.
    """
    exempt = settings.WEB_ALLOW_PRIVATE_ADDRESSES or target.host in set(
        settings.WEB_PRIVATE_HOSTS
    )
    for address in addresses:
        if is_metadata_address(address) or is_metadata_host(target.host):
            raise WebError(
                URL_NOT_ALLOWED,
                f"{target.host} is a cloud metadata service ({address}); "
                "Cairn never fetches it.",
            )
        if is_public_address(address) or exempt:
            continue
        if not intranet.allows(target.host, address):
            raise WebError(
                URL_NOT_ALLOWED,
                f"{target.host} resolves to {address}, an internal address; "
                "Cairn only fetches public addresses and the intranet hosts "
                "a workspace admin allows on Web settings.",
            )


def vetted_address(target: Target, intranet: Allowlist = NO_INTRANET) -> str:
    """Resolve the target once and return an address that is safe to connect to."""
    addresses = _resolved(target)
    check_addresses(target, addresses, intranet)
    return str(addresses[0])


_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cairn-resolve")


def refuse_internal_now(
    target: Target, intranet: Allowlist, *, timeout: float = RESOLVE_NOW_S
) -> None:
    """Refuse at once a URL whose host is internal and not allowed.

    Called when a URL is added, so a person (or the API) hears "not allowed"
    now rather than from a failed document later. A name that does not
    resolve in time is left to the fetch, which may meet a DNS that recovered.
    """
    try:
        addresses = _resolver.submit(_resolved, target).result(timeout=timeout)
    except (WebError, FutureTimeout):
        return
    check_addresses(target, addresses, intranet)


# Fetching ----------------------------------------------------------------------


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a vetted address, with the Host header of the URL."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a vetted address; SNI and certificate use the host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        # Certificates are verified against the URL's host name, not the address.
        self.context = ssl.create_default_context(
            cafile=settings.WEB_FETCH_CA_FILE or None
        )
        super().__init__(host, port, timeout=timeout, context=self.context)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)


def fetch(
    url: str,
    *,
    allowed: Iterable[str] = (),
    blocked: Iterable[str] = (),
    intranet: Allowlist = NO_INTRANET,
) -> Fetched:
    """Fetch a URL within the limits, following redirects hop by hop."""
    allowed, blocked = list(allowed), list(blocked)
    deadline = time.monotonic() + settings.WEB_FETCH_TIMEOUT_S
    current = url
    for _hop in range(settings.WEB_FETCH_MAX_REDIRECTS + 1):
        target = check_url(current, allowed=allowed, blocked=blocked)
        address = vetted_address(target, intranet)
        response, connection = _request(target, address, deadline)
        try:
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise WebError(
                        URL_NOT_ACCESSIBLE, "A redirect came without a Location."
                    )
                current = urljoin(target.url, location.strip())
                continue
            if not 200 <= response.status < 300:
                raise WebError(
                    URL_NOT_ACCESSIBLE,
                    f"{target.host} answered HTTP {response.status}.",
                )
            return _read(target, response, deadline)
        finally:
            connection.close()
    raise WebError(
        URL_NOT_ACCESSIBLE,
        f"More than {settings.WEB_FETCH_MAX_REDIRECTS} redirects.",
    )


def _request(
    target: Target, address: str, deadline: float
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    remaining = max(0.5, deadline - time.monotonic())
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target.host, target.port, address, remaining)
    parts = urlsplit(target.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "GET",
            path,
            headers={
                "User-Agent": "Cairn/1.0 (knowledge base; +fetches pasted URLs)",
                "Accept": "text/html, text/plain, application/pdf;q=0.9",
                # Compressed bodies would dodge the size limit until decoded.
                "Accept-Encoding": "identity",
            },
        )
        return connection.getresponse(), connection
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        raise WebError(
            URL_NOT_ACCESSIBLE, f"{target.host} could not be reached: {exc}."
        ) from None


def _read(
    target: Target, response: http.client.HTTPResponse, deadline: float
) -> Fetched:
    header = response.getheader("Content-Type") or ""
    mime_type, _, params = header.partition(";")
    mime_type = mime_type.strip().lower()
    if mime_type not in CONTENT_TYPES:
        raise WebError(
            UNSUPPORTED_CONTENT_TYPE,
            f"{target.url} is {mime_type or 'of no declared type'}; "
            "Cairn fetches HTML, plain text and PDF.",
        )
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    limit = settings.WEB_FETCH_MAX_MB * 1024 * 1024
    too_large = WebError(
        URL_NOT_ACCESSIBLE,
        f"{target.url} is larger than the {settings.WEB_FETCH_MAX_MB} MB limit.",
    )
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise too_large
    blocks: list[bytes] = []
    size = 0
    try:
        # read1 returns what has arrived, so a slow drip meets the deadline check.
        while block := response.read1(_READ_BLOCK):
            size += len(block)
            if size > limit:
                raise too_large
            if time.monotonic() > deadline:
                raise WebError(
                    URL_NOT_ACCESSIBLE,
                    f"{target.url} took longer than "
                    f"{settings.WEB_FETCH_TIMEOUT_S} s to download.",
                )
            blocks.append(block)
    except (OSError, http.client.HTTPException) as exc:
        raise WebError(
            URL_NOT_ACCESSIBLE, f"Reading {target.url} failed: {exc}."
        ) from None
    data = b"".join(blocks)
    if not data.strip():
        raise WebError(URL_NOT_ACCESSIBLE, f"{target.url} is empty.")
    title = html_title(data) if mime_type == "text/html" else ""
    return Fetched(
        url=target.url,
        data=data,
        mime_type=mime_type,
        charset=charset,
        title=title or default_title(target.url),
        retrieved_at=timezone.now(),
    )


def default_title(url: str) -> str:
    """A readable title for a URL: host and last path segment."""
    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return (f"{parts.hostname} · {last}" if last else str(parts.hostname))[:255]
