"""Forms: the workspace's web settings."""

from __future__ import annotations

from typing import Any

from django import forms

from documents.models import Workspace
from documents.remote import intranet
from documents.remote.web import normalise_domain_entry

MAX_INTRANET_SOURCES = 50


class DomainListField(forms.CharField):
    """One domain (optionally with a path) per line, stored as a list."""

    widget = forms.Textarea(attrs={"rows": 4})
    normalise = staticmethod(normalise_domain_entry)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        entries: list[str] = []
        errors: list[str] = []
        for line in text.replace(",", "\n").splitlines():
            if not line.strip():
                continue
            try:
                entry = self.normalise(line)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            if entry not in entries:
                entries.append(entry)
        if errors:
            raise forms.ValidationError(errors)
        return entries


class IntranetListField(DomainListField):
    """One private host name or network per line, stored as a list."""

    normalise = staticmethod(intranet.normalise_entry)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        entries = super().to_python(value)
        if len(entries) > MAX_INTRANET_SOURCES:
            raise forms.ValidationError(
                f"Allow at most {MAX_INTRANET_SOURCES} hosts and networks."
            )
        return entries


class WorkspaceWebForm(forms.ModelForm):  # type: ignore[type-arg]
    """Claude's web fetch tool and the domain lists, edited by a workspace admin."""

    allowed_domains = DomainListField(
        required=False, help_text="Only these domains (subdomains included)."
    )
    blocked_domains = DomainListField(
        required=False, help_text="Never these domains (subdomains included)."
    )
    intranet_sources = IntranetListField(
        required=False,
        label="Intranet hosts and networks URL documents may reach",
        help_text=(
            "One per line: an exact host name (wiki.internal) or a network "
            "(10.20.0.0/16, 192.168.1.10). Everything else internal stays refused, "
            "and cloud metadata addresses are refused even inside an allowed "
            "network. Claude's web fetch never reaches these."
        ),
    )

    class Meta:
        model = Workspace
        fields = [
            "web_fetch_enabled",
            "web_fetch_max_uses",
            "web_fetch_max_content_tokens",
            "web_fetch_use_cache",
            "allowed_domains",
            "blocked_domains",
            "intranet_sources",
            "code_execution_enabled",
        ]
        labels = {
            "web_fetch_enabled": "Let Claude fetch URLs named in questions",
            "web_fetch_max_uses": "Fetches per answer at most",
            "web_fetch_max_content_tokens": "Tokens per fetched page at most",
            "web_fetch_use_cache": "Let Claude reuse pages it fetched recently",
            "code_execution_enabled": (
                "Let Claude run code over CSV and Excel documents"
            ),
        }
        help_texts = {
            "code_execution_enabled": (
                "When a question asks for a total, an average, a count or a chart "
                "and a CSV or Excel document is among those found, Claude gets the "
                "file in a sandbox and shows the code it ran (online mode only)."
            ),
            "web_fetch_use_cache": (
                "Untick to always fetch fresh content, for pages that change often "
                "(slower)."
            ),
        }

    def clean_web_fetch_max_uses(self) -> int:
        value = int(self.cleaned_data["web_fetch_max_uses"])
        if not 1 <= value <= 20:
            raise forms.ValidationError("Between 1 and 20.")
        return value

    def clean_web_fetch_max_content_tokens(self) -> int:
        value = int(self.cleaned_data["web_fetch_max_content_tokens"])
        if not 1000 <= value <= 200_000:
            raise forms.ValidationError("Between 1,000 and 200,000.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("allowed_domains") and data.get("blocked_domains"):
            raise forms.ValidationError(
                "Use an allow list or a block list, not both at once."
            )
        return data
