"""Login throttling's two hooks: whose address an attempt is, and the 429 page.

django-axes calls client_ip (AXES_CLIENT_IP_CALLABLE) for every attempt and
lockout_response (AXES_LOCKOUT_CALLABLE) for a refused one.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """A 429 that says how long the pause lasts, for /login/ and the admin alike."""
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str | None:
    """The address a login attempt came from, as throttling counts it.

    The connection's own address, unless it is a trusted proxy's
    (settings.TRUSTED_PROXIES): then X-Forwarded-For read from the right, the
    first hop no trusted proxy added. Hops to its left are whatever the client
    sent, so a forged list never buys fresh attempts; a garbled one counts as
    the proxy itself.
    """
    remote = request.META.get("REMOTE_ADDR")
    trusted = [ipaddress.ip_network(n) for n in settings.TRUSTED_PROXIES]
    if not trusted or not _within(_address(remote or ""), trusted):
        return remote
    hops = [
        hop.strip()
        for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote
        if not _within(address, trusted):
            return str(address)
    # Every hop is a trusted proxy: the leftmost is where the request began.
    first = _address(hops[0]) if hops else None
    return str(first) if first is not None else remote


def _within(address: Address | None, networks: list[Network]) -> bool:
    return address is not None and any(address in n for n in networks)


def _address(text: str) -> Address | None:
    """An address from a hop: "203.0.113.5", "203.0.113.5:4431", "[2001:db8::1]:80"."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address
