"""The admin's settings pages: coverage models, playbooks and steps, milestone definitions,
scoring, seats and API keys.

Admins only, reads included: a settings page shows how the organization is run (who covers
whom, which keys exist), which is an admin's business. Views are thin: forms check shapes, the
services check rules and write, and a service's field errors come back on the form in place.
Each URL's object is fetched through the request-scoped default manager before anything else
answers, so another organization's id is a 404 whatever the method.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from milestones.models import MilestoneDefinition
from milestones.services import milestone_definition_create, milestone_definition_update
from orchestration.coverage import (
    CoveragePreview,
    coverage_model_create,
    coverage_model_update,
    coverage_preview,
)
from orchestration.models import CoverageModel, Playbook, PlaybookStep
from orchestration.playbooks import (
    playbook_activate,
    playbook_create,
    playbook_deactivate,
    playbook_steps,
    playbook_update,
    step_add,
    step_remove,
    step_update,
    steps_reorder,
)
from outcomes.models import ScoringConfiguration
from outcomes.scoring import band_changes_preview, scoring_configuration
from outcomes.services import scoring_configuration_save
from tenancy.access import require_role
from tenancy.models import ApiKey, Organization, Seat, User
from tenancy.selectors import api_keys_for_list, organization_team
from tenancy.services import (
    api_key_create,
    api_key_revoke,
    seat_change_role,
    seat_invite,
    seat_remove,
)
from tenancy.settings_forms import (
    ApiKeyForm,
    CoverageModelForm,
    InviteForm,
    MilestoneDefinitionForm,
    PlaybookForm,
    RoleForm,
    RuleFormSet,
    ScoringForm,
    StepForm,
    criteria_errors_to_rows,
    criteria_from_rows,
    rows_from_criteria,
)
from tenancy.settings_selectors import (
    coverage_member_counts,
    coverage_model_links,
    coverage_models_for_list,
    milestone_definitions_for_list,
    playbooks_for_list,
    settings_overview,
)

PAGE_SIZE = 25
RULES_PREFIX = "rules"

admin_only = require_role(Seat.Role.ADMIN, read_role=Seat.Role.ADMIN)


# --- helpers ---------------------------------------------------------------------------------


def with_row(model: type[models.Model], kwarg: str, *related: str) -> Callable:
    """Fetch the URL's ``kwarg`` row of ``model`` through the request-scoped default manager
    (404 for another organization's id) and hand it to the view in its place."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, org_slug: str, **kwargs: Any) -> HttpResponse:
            queryset = model.objects.select_related(*related) if related else model.objects
            row = get_object_or_404(queryset, pk=kwargs.pop(kwarg))
            return view(request, org_slug, row, **kwargs)

        return wrapper

    return decorator


def put_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's field-keyed errors on the form: under the field of that name, else on top."""
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def paginate(request: HttpRequest, rows: Any) -> Page:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page") or request.POST.get("page"))


def done_and_redirect(request: HttpRequest, message: str, to: str, **kwargs: Any) -> HttpResponse:
    messages.success(request, message)
    return redirect(to, org_slug=request.organization.slug, **kwargs)


def no_store(response: HttpResponse) -> HttpResponse:
    """For pages that show a secret once: never kept by a browser or a proxy."""
    response["Cache-Control"] = "no-store"
    return response


# --- index -----------------------------------------------------------------------------------


@admin_only
@require_safe
def settings_index(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Every settings section with what it holds now."""
    overview = settings_overview(organization=request.organization)
    return render(request, "settings/index.html", {"overview": overview})


# --- coverage models -------------------------------------------------------------------------


@admin_only
@require_safe
def coverage_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Coverage models in the order they win members, with their pool, playbooks and reach."""
    page = paginate(request, coverage_models_for_list(organization=request.organization))
    counts = coverage_member_counts(
        organization=request.organization, model_ids=[model.pk for model in page.object_list]
    )
    return render(request, "settings/coverage_list.html", {"page": page, "counts": counts})


def _as_typed(data: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The coverage form's values as posted, to show again unbound: "Add a rule" submits
    nothing, so it shows no errors yet, and the formset's extra row is the rule to add."""
    form_initial = {
        name: data.getlist(name) if name in ("pool_seats", "playbooks") else data.get(name)
        for name in CoverageModelForm.base_fields
    }
    typed = RuleFormSet(data, prefix=RULES_PREFIX)
    rows = [
        {name: form[name].value() or "" for name in ("field", "op", "value")}
        for form in typed.forms
    ]
    return form_initial, [row for row in rows if any(row.values())]


class CoverageForms:
    """The model's form and its rule rows, with what a preview or a save found."""

    def __init__(self, request: HttpRequest, model: CoverageModel | None) -> None:
        organization = request.organization
        self.model = model
        self.preview: CoveragePreview | None = None
        self.rows: list = []
        if request.method == "POST" and "add_rule" not in request.POST:
            self.form = CoverageModelForm(request.POST, organization=organization)
            self.rules = RuleFormSet(request.POST, prefix=RULES_PREFIX)
            return
        if request.method == "POST":
            form_initial, rule_rows = _as_typed(request.POST)
        elif model is not None:
            pool, playbooks = coverage_model_links(organization=organization, coverage_model=model)
            form_initial = CoverageModelForm.initial_for(model, pool=pool, playbooks=playbooks)
            rule_rows = rows_from_criteria(model.criteria)
        else:
            form_initial, rule_rows = {"priority": 100, "assignment_policy": "round_robin"}, []
        self.form = CoverageModelForm(initial=form_initial, organization=organization)
        self.rules = RuleFormSet(initial=rule_rows, prefix=RULES_PREFIX)

    def is_valid(self) -> bool:
        form_ok, rules_ok = self.form.is_valid(), self.rules.is_valid()
        return form_ok and rules_ok

    def kwargs(self) -> dict[str, Any]:
        """The service's keyword arguments, from valid forms."""
        criteria, self.rows = criteria_from_rows(self.rules)
        data = self.form.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "priority": data["priority"],
            "assignment_policy": data["assignment_policy"],
            "engagement_cadence_days": data["engagement_cadence_days"],
            "pool_seats": list(data["pool_seats"]),
            "playbooks": list(data["playbooks"]),
            "criteria": criteria,
        }

    def refuse(self, error: ValidationError) -> None:
        """Put a service's errors in place: criteria on their rows, the rest on the form."""
        errors = error.message_dict
        left = criteria_errors_to_rows(errors.pop("criteria", []), self.rows, self.rules)
        if left:
            self.form.add_error(None, left)
        if errors:
            put_errors(self.form, ValidationError(errors))

    def run_preview(self, organization: Organization) -> None:
        kwargs = self.kwargs()
        try:
            if self.model is None:
                self.preview = coverage_preview(organization=organization, model_or_fields=kwargs)
            else:
                # The saved model as it would be: weighed in place of itself, never saved here.
                self.model.priority = kwargs["priority"]
                self.model.criteria = kwargs["criteria"]
                self.preview = coverage_preview(
                    organization=organization, model_or_fields=self.model
                )
        except ValidationError as error:
            self.refuse(error)

    def problems(self) -> list[str]:
        """Every problem in words, for the live preview box."""
        found = [str(message) for message in self.form.non_field_errors()]
        for name, field in self.form.fields.items():
            found += [f"{field.label}: {message}" for message in self.form.errors.get(name, [])]
        for form in self.rules.forms:
            found += [str(message) for message in form.non_field_errors()]
        return list(dict.fromkeys(found))


def _coverage_page(
    request: HttpRequest, forms_: CoverageForms, *, status: int = 200
) -> HttpResponse:
    context = {"forms": forms_, "form": forms_.form, "rules": forms_.rules, "model": forms_.model}
    return render(request, "settings/coverage_form.html", context, status=status)


def _coverage_submit(request: HttpRequest, model: CoverageModel | None) -> HttpResponse:
    forms_ = CoverageForms(request, model)
    if request.method != "POST" or "add_rule" in request.POST:
        return _coverage_page(request, forms_)
    if not forms_.is_valid():
        return _coverage_page(request, forms_, status=400)
    if "preview" in request.POST:  # without JavaScript: the figures, and nothing written
        forms_.run_preview(request.organization)
        return _coverage_page(request, forms_, status=200 if forms_.preview else 400)
    try:
        kwargs = forms_.kwargs()
        if model is None:
            saved = coverage_model_create(organization=request.organization, **kwargs)
        else:
            saved = coverage_model_update(
                organization=request.organization, coverage_model=model, **kwargs
            )
    except ValidationError as error:
        forms_.refuse(error)
        return _coverage_page(request, forms_, status=400)
    return done_and_redirect(
        request,
        f"Coverage model “{saved.name}” saved; members are matched again in a moment.",
        "tenancy:settings_coverage",
    )


@admin_only
@require_http_methods(["GET", "HEAD", "POST"])
def coverage_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _coverage_submit(request, None)


@admin_only
@with_row(CoverageModel, "coverage_model_id")
@require_http_methods(["GET", "HEAD", "POST"])
def coverage_edit(request: HttpRequest, org_slug: str, model: CoverageModel) -> HttpResponse:
    return _coverage_submit(request, model)


def _coverage_preview_fragment(request: HttpRequest, model: CoverageModel | None) -> HttpResponse:
    """The live preview (htmx): the figures, or what to fix first. Always 200 so htmx swaps."""
    forms_ = CoverageForms(request, model)
    if forms_.is_valid():
        forms_.run_preview(request.organization)
    return render(request, "settings/coverage_form.html#preview", {"forms": forms_})


@admin_only
@require_POST
def coverage_preview_new(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _coverage_preview_fragment(request, None)


@admin_only
@with_row(CoverageModel, "coverage_model_id")
@require_POST
def coverage_preview_edit(
    request: HttpRequest, org_slug: str, model: CoverageModel
) -> HttpResponse:
    return _coverage_preview_fragment(request, model)


@admin_only
@with_row(CoverageModel, "coverage_model_id")
@require_POST
def coverage_set_active(request: HttpRequest, org_slug: str, model: CoverageModel) -> HttpResponse:
    """Switch a model off (its members fall to the next matching model) or on again."""
    active = request.POST.get("active") == "1"
    coverage_model_update(organization=request.organization, coverage_model=model, is_active=active)
    state = "switched on" if active else "switched off"
    return done_and_redirect(
        request, f"Coverage model “{model.name}” {state}.", "tenancy:settings_coverage"
    )


# --- playbooks and steps ---------------------------------------------------------------------


@admin_only
@require_safe
def playbook_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    page = paginate(request, playbooks_for_list(organization=request.organization))
    return render(request, "settings/playbook_list.html", {"page": page})


@admin_only
@require_http_methods(["GET", "HEAD", "POST"])
def playbook_new(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = PlaybookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            playbook = playbook_create(organization=request.organization, **form.service_kwargs())
        except ValidationError as error:
            put_errors(form, error)
        else:
            return done_and_redirect(
                request,
                f"Playbook “{playbook.name}” created: add its steps.",
                "tenancy:settings_playbook",
                playbook_id=playbook.pk,
            )
    status = 400 if form.is_bound else 200
    return render(request, "settings/playbook_new.html", {"form": form}, status=status)


def _playbook_context(
    request: HttpRequest,
    playbook: Playbook,
    *,
    form: PlaybookForm | None = None,
    step_form: StepForm | None = None,
) -> dict[str, Any]:
    return {
        "playbook": playbook,
        "form": form
        or PlaybookForm(
            initial={
                "name": playbook.name,
                "description": playbook.description,
                "trigger": playbook.trigger,
                "trigger_band": playbook.trigger_band,
                "trigger_days": playbook.trigger_days,
            }
        ),
        "steps": playbook_steps(organization=request.organization, playbook=playbook),
        "step_form": step_form or StepForm(),
    }


@admin_only
@with_row(Playbook, "playbook_id")
@require_http_methods(["GET", "HEAD", "POST"])
def playbook_detail(request: HttpRequest, org_slug: str, playbook: Playbook) -> HttpResponse:
    """A playbook's settings and its steps, in order."""
    if request.method != "POST":
        return render(
            request, "settings/playbook_detail.html", _playbook_context(request, playbook)
        )
    form = PlaybookForm(request.POST)
    if form.is_valid():
        try:
            playbook_update(
                organization=request.organization, playbook=playbook, **form.service_kwargs()
            )
        except ValidationError as error:
            put_errors(form, error)
            playbook.refresh_from_db()
        else:
            return done_and_redirect(
                request, "Playbook saved.", "tenancy:settings_playbook", playbook_id=playbook.pk
            )
    context = _playbook_context(request, playbook, form=form)
    return render(request, "settings/playbook_detail.html", context, status=400)


@admin_only
@with_row(Playbook, "playbook_id")
@require_POST
def playbook_set_active(request: HttpRequest, org_slug: str, playbook: Playbook) -> HttpResponse:
    """Switch a playbook off (its active enrolments are cancelled) or on again."""
    if request.POST.get("active") == "1":
        playbook_activate(organization=request.organization, playbook=playbook)
        message = f"Playbook “{playbook.name}” switched on."
    else:
        playbook_deactivate(organization=request.organization, playbook=playbook)
        message = f"Playbook “{playbook.name}” switched off; its enrolments were cancelled."
    return done_and_redirect(request, message, "tenancy:settings_playbooks")


def _steps_answer(
    request: HttpRequest, playbook: Playbook, *, step_form: StepForm | None = None
) -> HttpResponse:
    """After a step action: the steps fragment for htmx; else the page again (errors, 400) or a
    redirect to it."""
    failed = step_form is not None and bool(step_form.errors)
    if request.htmx:
        context = _playbook_context(request, playbook, step_form=step_form)
        return render(request, "settings/playbook_detail.html#steps", context)
    if failed:
        context = _playbook_context(request, playbook, step_form=step_form)
        return render(request, "settings/playbook_detail.html", context, status=400)
    return redirect(
        "tenancy:settings_playbook", org_slug=request.organization.slug, playbook_id=playbook.pk
    )


@admin_only
@with_row(Playbook, "playbook_id")
@require_POST
def step_create(request: HttpRequest, org_slug: str, playbook: Playbook) -> HttpResponse:
    form = StepForm(request.POST)
    if form.is_valid():
        try:
            step_add(organization=request.organization, playbook=playbook, **form.cleaned_data)
        except ValidationError as error:
            put_errors(form, error)
    return _steps_answer(request, playbook, step_form=form if form.errors else None)


@admin_only
@with_row(PlaybookStep, "step_id", "playbook")
@require_http_methods(["GET", "HEAD", "POST"])
def step_edit(request: HttpRequest, org_slug: str, step: PlaybookStep) -> HttpResponse:
    if request.method != "POST":
        form = StepForm(initial=StepForm.initial_for(step))
        return render(request, "settings/step_form.html", {"step": step, "form": form})
    form = StepForm(request.POST)
    if form.is_valid():
        try:
            step_update(organization=request.organization, step=step, **form.cleaned_data)
        except ValidationError as error:
            put_errors(form, error)
        else:
            return done_and_redirect(
                request, "Step saved.", "tenancy:settings_playbook", playbook_id=step.playbook_id
            )
    return render(request, "settings/step_form.html", {"step": step, "form": form}, status=400)


@admin_only
@with_row(PlaybookStep, "step_id", "playbook")
@require_POST
def step_delete(request: HttpRequest, org_slug: str, step: PlaybookStep) -> HttpResponse:
    playbook = step.playbook
    step_remove(organization=request.organization, step=step)
    return _steps_answer(request, playbook)


@admin_only
@with_row(PlaybookStep, "step_id", "playbook")
@require_POST
def step_move(request: HttpRequest, org_slug: str, step: PlaybookStep) -> HttpResponse:
    """Move a step one place up or down."""
    playbook = step.playbook
    order = [s.pk for s in playbook_steps(organization=request.organization, playbook=playbook)]
    index = order.index(step.pk)
    target = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        steps_reorder(organization=request.organization, playbook=playbook, step_ids=order)
    return _steps_answer(request, playbook)


# --- milestone definitions -------------------------------------------------------------------


@admin_only
@require_safe
def milestone_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    page = paginate(request, milestone_definitions_for_list(organization=request.organization))
    return render(request, "settings/milestone_list.html", {"page": page})


def _milestone_submit(request: HttpRequest, definition: MilestoneDefinition | None) -> HttpResponse:
    if request.method != "POST":
        initial = (
            MilestoneDefinitionForm.initial_for(definition)
            if definition
            else {"expected_after_days": 30, "anchor": MilestoneDefinition.Anchor.JOINED}
        )
        form = MilestoneDefinitionForm(initial=initial)
        return render(
            request, "settings/milestone_form.html", {"form": form, "definition": definition}
        )
    form = MilestoneDefinitionForm(request.POST)
    if form.is_valid():
        try:
            if definition is None:
                milestone_definition_create(
                    organization=request.organization, **form.service_kwargs()
                )
            else:
                milestone_definition_update(
                    organization=request.organization,
                    definition=definition,
                    **form.service_kwargs(),
                )
        except ValidationError as error:
            put_errors(form, error)
        else:
            return done_and_redirect(request, "Milestone saved.", "tenancy:settings_milestones")
    context = {"form": form, "definition": definition}
    return render(request, "settings/milestone_form.html", context, status=400)


@admin_only
@require_http_methods(["GET", "HEAD", "POST"])
def milestone_new(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _milestone_submit(request, None)


@admin_only
@with_row(MilestoneDefinition, "definition_id")
@require_http_methods(["GET", "HEAD", "POST"])
def milestone_edit(
    request: HttpRequest, org_slug: str, definition: MilestoneDefinition
) -> HttpResponse:
    return _milestone_submit(request, definition)


@admin_only
@with_row(MilestoneDefinition, "definition_id")
@require_POST
def milestone_set_active(
    request: HttpRequest, org_slug: str, definition: MilestoneDefinition
) -> HttpResponse:
    """Stop planning a milestone for new members (those planned stay), or start again."""
    active = request.POST.get("active") == "1"
    milestone_definition_update(
        organization=request.organization, definition=definition, is_active=active
    )
    state = "switched on" if active else "switched off"
    return done_and_redirect(
        request, f"Milestone “{definition.name}” {state}.", "tenancy:settings_milestones"
    )


# --- scoring ---------------------------------------------------------------------------------


def _proposed(
    organization: Organization, form: ScoringForm
) -> tuple[ScoringConfiguration | None, dict[str, int] | None]:
    """The configuration the valid form proposes (checked by the model's rules, not saved) and
    how many members it would move into each band; errors go on the form."""
    if not form.is_valid():
        return None, None
    proposed = scoring_configuration(organization=organization)
    for name, value in form.cleaned_data.items():
        setattr(proposed, name, value)
    try:
        proposed.clean()
    except ValidationError as error:
        put_errors(form, error)
        return None, None
    return proposed, band_changes_preview(organization=organization, configuration=proposed)


def _band_moves(moves: dict[str, int] | None) -> list[tuple[str, int]]:
    if moves is None:
        return []
    return [(band, count) for band, count in moves.items() if count]


@admin_only
@require_http_methods(["GET", "HEAD", "POST"])
def scoring_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Weights and thresholds, with what saving them would do to the bands."""
    organization = request.organization
    current = scoring_configuration(organization=organization)
    if request.method != "POST":
        form = ScoringForm(initial=ScoringForm.initial_for(current))
        return render(request, "settings/scoring.html", {"form": form, "moves": None})
    form = ScoringForm(request.POST)
    if "preview" in request.POST:
        _, moves = _proposed(organization, form)
        context = {"form": form, "moves": _band_moves(moves), "previewed": moves is not None}
        return render(
            request, "settings/scoring.html", context, status=200 if moves is not None else 400
        )
    if form.is_valid():
        try:
            scoring_configuration_save(organization=organization, **form.cleaned_data)
        except ValidationError as error:
            put_errors(form, error)
        else:
            return done_and_redirect(
                request,
                "Scoring saved; every member is rescored in a moment.",
                "tenancy:settings_scoring",
            )
    return render(request, "settings/scoring.html", {"form": form, "moves": None}, status=400)


@admin_only
@require_POST
def scoring_preview(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The live band-change preview (htmx); always 200 so htmx swaps it in."""
    form = ScoringForm(request.POST)
    _, moves = _proposed(request.organization, form)
    context = {"form": form, "moves": _band_moves(moves), "previewed": moves is not None}
    return render(request, "settings/scoring.html#preview", context)


# --- seats -----------------------------------------------------------------------------------


def set_password_link(request: HttpRequest, user: User) -> str | None:
    """A one-time link for a user who has no password yet (a Django password-reset token:
    it stops working once a password is set, or after PASSWORD_RESET_TIMEOUT)."""
    if user.has_usable_password():
        return None
    path = reverse(
        "account:set_password",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return request.build_absolute_uri(path)


def _seats_context(
    request: HttpRequest,
    *,
    invite_form: InviteForm | None = None,
    invited: Seat | None = None,
    link: str | None = None,
    relinked: bool = False,
    row_errors: dict[int, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "relinked": relinked,
        "page": paginate(request, organization_team(organization=request.organization)),
        "invite_form": invite_form or InviteForm(),
        "invited": invited,
        "link": link,
        "row_errors": row_errors or {},
        "roles": Seat.Role.choices,
    }


def _seats_answer(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    """The seats area (htmx, always 200 so it is swapped in) or the whole page."""
    template = "settings/seats.html#area" if request.htmx else "settings/seats.html"
    status = 200 if request.htmx else status
    return no_store(render(request, template, _seats_context(request, **context), status=status))


@admin_only
@require_safe
def seat_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _seats_answer(request)


@admin_only
@require_POST
def seat_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Invite someone; a person without a password gets a set-password link, shown this once."""
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            seat = seat_invite(organization=request.organization, **form.cleaned_data)
        except ValidationError as error:
            put_errors(form, error)
        else:
            link = set_password_link(request, seat.user)
            return _seats_answer(request, invited=seat, link=link)
    return _seats_answer(request, invite_form=form, status=400)


@admin_only
@with_row(Seat, "seat_id", "user")
@require_POST
def seat_link(request: HttpRequest, org_slug: str, seat: Seat) -> HttpResponse:
    """A new set-password link for someone invited who lost theirs (earlier links stay valid
    until a password is set: they are all bound to the same, still unusable, password)."""
    link = set_password_link(request, seat.user)
    if link is None:
        message = "They have chosen a password already: they log in with it."
        return _seats_answer(request, row_errors={seat.pk: [message]}, status=400)
    return _seats_answer(request, invited=seat, link=link, relinked=True)


@admin_only
@with_row(Seat, "seat_id", "user")
@require_POST
def seat_role(request: HttpRequest, org_slug: str, seat: Seat) -> HttpResponse:
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({"role": form.errors.get("role", ["Choose a role."])})
        seat_change_role(
            organization=request.organization, seat=seat, role=form.cleaned_data["role"]
        )
    except ValidationError as error:
        return _seats_answer(request, row_errors={seat.pk: error.messages}, status=400)
    if request.htmx:
        return _seats_answer(request)
    return done_and_redirect(
        request, f"{seat.user.email} is now {seat.get_role_display()}.", "tenancy:settings_seats"
    )


@admin_only
@with_row(Seat, "seat_id", "user")
@require_POST
def seat_delete(request: HttpRequest, org_slug: str, seat: Seat) -> HttpResponse:
    try:
        unowned = seat_remove(organization=request.organization, seat=seat, removed_by=request.seat)
    except ValidationError as error:
        return _seats_answer(request, row_errors={seat.pk: error.messages}, status=400)
    if seat.pk == request.seat.pk:  # they removed themselves: nothing here is theirs any more
        response = redirect("tenancy:home")
        if request.htmx:
            response = HttpResponse(headers={"HX-Redirect": reverse("tenancy:home")})
        return response
    if request.htmx:
        return _seats_answer(request)
    note = (
        f" {unowned} member{'s' if unowned != 1 else ''} now without an owner." if unowned else ""
    )
    return done_and_redirect(request, f"{seat.user.email} removed.{note}", "tenancy:settings_seats")


class SetPasswordView(PasswordResetConfirmView):
    """Where an invited person chooses their password, through the link an admin passed on.

    The token is Django's password-reset token: it is bound to the user's current password
    hash, so it works once (until a password is set) and expires with PASSWORD_RESET_TIMEOUT.
    """

    template_name = "settings/set_password.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form):
        messages.success(self.request, "Your password is set: log in with your email and it.")
        return super().form_valid(form)


# --- API keys --------------------------------------------------------------------------------


def _keys_answer(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    template = "settings/api_keys.html#area" if request.htmx else "settings/api_keys.html"
    context = {
        "page": paginate(request, api_keys_for_list(organization=request.organization)),
        "form": context.pop("form", None) or ApiKeyForm(),
        **context,
    }
    status = 200 if request.htmx else status
    return no_store(render(request, template, context, status=status))


@admin_only
@require_safe
def api_key_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _keys_answer(request)


@admin_only
@require_POST
def api_key_new(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Create a key and show it in full, this once: only its hash is kept."""
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            key, secret = api_key_create(
                organization=request.organization, created_by=request.seat, **form.cleaned_data
            )
        except ValidationError as error:
            put_errors(form, error)
        else:
            return _keys_answer(request, created=key, secret=secret)
    return _keys_answer(request, form=form, status=400)


@admin_only
@with_row(ApiKey, "key_id")
@require_POST
def api_key_revoke_view(request: HttpRequest, org_slug: str, api_key: ApiKey) -> HttpResponse:
    api_key_revoke(organization=request.organization, api_key=api_key)
    if request.htmx:
        return _keys_answer(request)
    return done_and_redirect(
        request, f"Key “{api_key.name}” revoked: it no longer works.", "tenancy:settings_api_keys"
    )
