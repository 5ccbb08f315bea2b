"""A lead list into HubSpot: companies by domain, founders with a work email as contacts.

A company the CRM already has is never created twice: a company synced before is
updated by its HubSpot id, and one never synced is first looked up with the same
match the ``crm_match`` node uses (``crm/match.py``: its registrable domain, as
``acme.com`` or ``www.acme.com``); found, it is updated by id; only a company the
CRM does not have is created (``batch/create``: HubSpot keeps no company unique by
domain, so it cannot upsert them by it). When the lookup fails, those companies
are not sent (a guess could create a duplicate) and are tried again next time.

What is sent comes from the list's current values (imported fields and
workflow outputs): one company per row with a website (keyed by its
registrable domain), one contact per ``founder_emails`` entry (keyed by the
email), associated with its company. Every record's properties are hashed; the
store remembers the hash last sent and HubSpot's id (``crm_records``), so a
re-sync sends only records whose values changed, and nothing at all when none
did. A contact's hash includes its company's domain, and it is recorded only
once its association is made, so a failed association is retried next time.

A dry run builds the same requests and returns them instead of sending them:
no token is needed and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.crm.hubspot import (
    BATCH_SIZE,
    COMPANIES,
    CONTACTS,
    HUBSPOT,
    BatchOutcome,
    HubSpotClient,
    association_body,
    batch_request,
    hubspot_token,
)
from lead_pipeline.crm.hubspot_source import HUBSPOT_DEFAULTS, HubSpotReader
from lead_pipeline.crm.match import CompanyMatcher, update_companies
from lead_pipeline.domains import domain_name, registrable_domain
from lead_pipeline.founders.emails import check_work_email
from lead_pipeline.providers import ProviderError, ProviderSession
from lead_pipeline.settings import get_settings
from lead_pipeline.store import CrmRecord, LeadStore


@dataclass(frozen=True)
class Record:
    object_type: str
    key: str
    row_id: str
    properties: dict[str, Any]
    company: str | None = None  # a contact's company domain

    @property
    def hash(self) -> str:
        payload = {"p": self.properties, "c": self.company}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Counts:
    changed: int = 0
    unchanged: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0


@dataclass
class SyncReport:
    lead_list: str
    dry_run: bool
    companies: Counts = field(default_factory=Counts)
    contacts: Counts = field(default_factory=Counts)
    associated: int = 0
    skipped: list[str] = field(default_factory=list)  # rows left out, and why
    errors: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # a dry run's requests

    @property
    def ok(self) -> bool:
        return not self.errors

    def line(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        c, p = self.companies, self.contacts
        text = (
            f"HubSpot, list {self.lead_list!r}: {verb} {c.changed} companies "
            f"({c.unchanged} unchanged) and {p.changed} contacts ({p.unchanged} unchanged)"
        )
        if not self.dry_run:
            text += (
                f"; companies {c.created} created, {c.updated} updated, {c.failed} failed; "
                f"contacts {p.created} created, {p.updated} updated, {p.failed} failed; "
                f"{self.associated} associations"
            )
        return text


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _names(full: str) -> tuple[str, str]:
    parts = full.split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


def build_records(values: Mapping[str, Mapping[str, Any]]) -> tuple[list[Record], list[str]]:
    """Companies and contacts for the rows' current values, and the rows left out."""
    records: dict[tuple[str, str], Record] = {}
    skipped: list[str] = []
    for row_id, row in values.items():
        host = domain_name(row.get("website"))
        if host is None:
            skipped.append(f"{row_id}: no website, so no company domain")
            continue
        domain = registrable_domain(host)
        if (COMPANIES, domain) in records:
            skipped.append(
                f"{row_id}: same domain {domain} as row {records[(COMPANIES, domain)].row_id}"
            )
            continue
        company = {
            "domain": domain,
            "name": _text(row.get("name")),
            "website": _text(row.get("website")),
            "description": _text(row.get("one_liner")),
        }
        records[(COMPANIES, domain)] = Record(
            COMPANIES, domain, row_id, {k: v for k, v in company.items() if v is not None}
        )
        for person in row.get("founder_emails") or []:
            if not isinstance(person, Mapping):
                continue
            # The same gate as when it was found: nothing unchecked reaches a CRM.
            email = check_work_email(person.get("email"), row.get("website")).email
            if email is None or (CONTACTS, email) in records:
                continue
            first, last = _names(str(person.get("name") or ""))
            contact = {
                "email": email,
                "firstname": first or None,
                "lastname": last or None,
                "jobtitle": _text(person.get("title")),
                "company": _text(row.get("name")),
                "website": _text(row.get("website")),
            }
            records[(CONTACTS, email)] = Record(
                CONTACTS,
                email,
                row_id,
                {k: v for k, v in contact.items() if v is not None},
                company=domain,
            )
    return list(records.values()), skipped


async def sync_hubspot(
    store: LeadStore,
    lead_list: str,
    *,
    dry_run: bool = False,
    session: ProviderSession | None = None,
) -> SyncReport:
    """Send what changed since the last sync (or, with ``dry_run``, say what would be sent)."""
    store.require_list(lead_list)
    records, skipped = build_records(store.row_values(lead_list))
    state = store.crm_state(lead_list, HUBSPOT)
    report = SyncReport(lead_list=lead_list, dry_run=dry_run, skipped=skipped)
    changed: dict[str, list[Record]] = {COMPANIES: [], CONTACTS: []}
    for record in records:
        previous = state.get((record.object_type, record.key))
        counts = report.companies if record.object_type == COMPANIES else report.contacts
        if previous is not None and previous.synced_hash == record.hash:
            counts.unchanged += 1
        else:
            counts.changed += 1
            changed[record.object_type].append(record)
    if dry_run:
        for object_type, items in changed.items():
            batch = [(r.key, r.properties) for r in items]
            for start in range(0, len(batch), BATCH_SIZE):
                path, body = batch_request(object_type, batch[start : start + BATCH_SIZE])
                request: dict[str, Any] = {"method": "POST", "path": path, "body": body}
                if object_type == COMPANIES:
                    request["note"] = (
                        "a company HubSpot already has (synced before, or found by its "
                        "domain when sent) is updated by its id instead: batch/update"
                    )
                report.requests.append(request)
        pairs = [(c.key, c.key, c.company or "") for c in changed[CONTACTS]]
        for start in range(0, len(pairs), BATCH_SIZE):
            report.requests.append(
                {
                    "method": "POST",
                    "path": "/crm/v4/associations/contacts/companies/batch/associate/default",
                    "body": association_body(pairs[start : start + BATCH_SIZE]),
                    "note": "ids are HubSpot's once the records exist: shown as email -> domain",
                }
            )
        return report
    if not changed[COMPANIES] and not changed[CONTACTS]:
        return report
    if session is not None:
        return await _send(store, report, changed, state, HubSpotClient(session))
    config = get_settings()
    hubspot_token(config)  # no token: say so before opening anything
    async with ProviderSession.configured(config, defaults=HUBSPOT_DEFAULTS) as own:
        return await _send(store, report, changed, state, HubSpotClient(own))


async def _send_companies(
    records: list[Record],
    state: Mapping[tuple[str, str], CrmRecord],
    client: HubSpotClient,
) -> BatchOutcome:
    """Update the companies HubSpot has (by id), create the others; one outcome by key."""
    known = {key: r.crm_id for (kind, key), r in state.items() if kind == COMPANIES}
    unknown = [r.key for r in records if r.key not in known]
    outcome = BatchOutcome()
    if unknown:
        try:
            found = await CompanyMatcher(HubSpotReader(client.session)).match_domains(unknown)
        except ProviderError as exc:
            reason = f"not sent: could not look for it in HubSpot first: {exc.message}"
            outcome.errors |= dict.fromkeys(unknown, reason)
            records = [r for r in records if r.key in known]
        else:
            known |= {domain: m.crm_id for domain, m in found.items() if m.crm_id}
    updates = [
        (r.key, known[r.key], {k: v for k, v in r.properties.items() if k != "domain"})
        for r in records
        if r.key in known
    ]
    updated = await update_companies(client, updates)
    created = await client.upsert(
        COMPANIES, [(r.key, r.properties) for r in records if r.key not in known]
    )
    outcome.ids |= updated.ids | created.ids
    outcome.created |= created.created
    outcome.errors |= updated.errors | created.errors
    return outcome


async def _send(
    store: LeadStore,
    report: SyncReport,
    changed: dict[str, list[Record]],
    state: Mapping[tuple[str, str], CrmRecord],
    client: HubSpotClient,
) -> SyncReport:
    lead_list = report.lead_list
    companies = await _send_companies(changed[COMPANIES], state, client)
    done: list[CrmRecord] = []
    for record in changed[COMPANIES]:
        if record.key in companies.ids:
            created = record.key in companies.created
            report.companies.created += created
            report.companies.updated += not created
            done.append(
                CrmRecord(
                    COMPANIES, record.key, record.row_id, companies.ids[record.key], record.hash
                )
            )
        else:
            report.companies.failed += 1
            report.errors.append(f"company {record.key}: {companies.errors.get(record.key)}")
    store.record_crm_sync(lead_list, HUBSPOT, done)
    company_ids = {k[1]: r.crm_id for k, r in state.items() if k[0] == COMPANIES}
    company_ids |= companies.ids
    contacts = await client.upsert(CONTACTS, [(r.key, r.properties) for r in changed[CONTACTS]])
    pairs: list[tuple[str, str, str]] = []
    by_key = {r.key: r for r in changed[CONTACTS]}
    for record in changed[CONTACTS]:
        if record.key not in contacts.ids:
            report.contacts.failed += 1
            report.errors.append(f"contact {record.key}: {contacts.errors.get(record.key)}")
            continue
        created = record.key in contacts.created
        report.contacts.created += created
        report.contacts.updated += not created
        company_id = company_ids.get(record.company or "")
        if company_id is None:
            report.errors.append(
                f"contact {record.key}: not associated, its company {record.company} failed"
            )
            continue
        pairs.append((record.key, contacts.ids[record.key], company_id))
    failures = await client.associate(pairs)
    done = []
    for key, contact_id, _ in pairs:
        if key in failures:
            report.errors.append(f"contact {key}: association failed: {failures[key]}")
            continue
        report.associated += 1
        record = by_key[key]
        done.append(CrmRecord(CONTACTS, key, record.row_id, contact_id, record.hash))
    store.record_crm_sync(lead_list, HUBSPOT, done)
    return report
