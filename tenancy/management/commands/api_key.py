"""Create, list or revoke an organization's API keys from the shell (the same services as the
Settings → API keys page). A new key is printed once; only its hash is stored."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenancy.models import ApiKey, Organization
from tenancy.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Create (--name), list (--list) or revoke (--revoke PREFIX) an organization's API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organization's slug.")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--name", help="Create a key named after what will use it.")
        action.add_argument("--list", action="store_true", help="List the keys.")
        action.add_argument("--revoke", metavar="PREFIX", help="Revoke the key tdm_PREFIX….")
        parser.add_argument(
            "--scopes",
            default="read,write",
            help="Comma-separated scopes for a new key: read, write (default read,write).",
        )

    def handle(self, *args, org: str, name=None, list=False, revoke=None, scopes="", **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {org!r}.")
        if list:
            return self._list(organization)
        if revoke:
            return self._revoke(organization, revoke)
        try:
            key, secret = api_key_create(
                organization=organization,
                name=name,
                scopes=[scope.strip() for scope in scopes.split(",") if scope.strip()],
                created_by=None,
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        self.stdout.write(
            f"Created {key} with scopes {', '.join(key.scopes)}. The key, shown once:"
        )
        self.stdout.write(secret)

    def _list(self, organization: Organization) -> None:
        for key in ApiKey.objects.for_org(organization):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.is_revoked else "live"
            used = (
                f"last used {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
            )
            self.stdout.write(
                f"tdm_{key.prefix}…  {key.name}  [{', '.join(key.scopes)}]  {state}, {used}"
            )

    def _revoke(self, organization: Organization, prefix: str) -> None:
        prefix = prefix.removeprefix("tdm_").rstrip("…")
        key = ApiKey.objects.for_org(organization).filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"No key tdm_{prefix}… in {organization.slug}.")
        api_key_revoke(organization=organization, api_key=key)
        self.stdout.write(f"Revoked {key}.")
