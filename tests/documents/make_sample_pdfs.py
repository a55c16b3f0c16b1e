"""Write the two PDFs of ``sample_docs/`` (run by hand; not a test).

ragkit only reads PDFs, so the writer, fpdf2, is not one of its dependencies.
Regenerate the files from the repository root with a throwaway virtualenv::

    python3 -m venv /tmp/pdfgen
    /tmp/pdfgen/bin/pip install fpdf2
    /tmp/pdfgen/bin/python tests/documents/make_sample_pdfs.py

Each top-level part starts a new page, so the facts land on known pages
(the tests check a few). Dates are fixed so the output is reproducible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF

OUT = Path(__file__).resolve().parents[2] / "sample_docs"
CREATED = dt.datetime(2024, 5, 2, 9, 0, tzinfo=dt.timezone.utc)

# (page title, [(heading, paragraph), ...]); one entry per page.
Page = tuple[str, list[tuple[str, str]]]

SECURITY_POLICY: list[Page] = [
    (
        "Harbor Labs security policy",
        [
            (
                "Purpose and scope",
                "This policy sets the security rules that every Harbor Labs "
                "employee and contractor follows. It covers accounts, access to "
                "production, devices, customer data and how to report an incident. "
                "The policy is owned by the Chief Information Security Officer, "
                "Daniel Achebe, and is reviewed every January.",
            ),
            (
                "Accounts and passwords",
                "Passwords are at least 14 characters long and are kept in the "
                "company password manager; never reuse a password from another "
                "service. Multi-factor authentication is required on every company "
                "account. Access to production additionally requires a hardware "
                "security key; one is handed out on the first day.",
            ),
            (
                "Shared accounts",
                "Shared accounts are not allowed. Services authenticate with their "
                "own credentials, which live in the secrets vault and never in a "
                "source repository, a ticket or a chat message.",
            ),
        ],
    ),
    (
        "Access to production",
        [
            (
                "Just-in-time grants",
                "Nobody holds standing access to production. Engineers request a "
                "grant in Keel, naming the ticket or incident it is for. A grant "
                "lasts at most 4 hours and is approved by a second engineer from "
                "the owning team; during a SEV1 the incident commander may approve "
                "grants alone.",
            ),
            (
                "Access reviews",
                "Team leads review the members of every access group once a "
                "quarter and remove whoever no longer needs it. The review is "
                "recorded in Keel.",
            ),
            (
                "Leavers",
                "When someone leaves Harbor Labs, all of their access is removed "
                "within 4 hours of the end of their last working day, and their "
                "hardware security key is revoked.",
            ),
        ],
    ),
    (
        "Devices and customer data",
        [
            (
                "Laptops",
                "Company laptops use full-disk encryption, lock the screen after 5 "
                "minutes without use, and install operating system updates within "
                "14 days of their release. A lost or stolen laptop is reported to "
                "IT within 24 hours so that it can be wiped remotely.",
            ),
            (
                "Customer data",
                "Customer event data is classified as confidential. It is never "
                "copied to laptops, personal storage or test environments. "
                "Debugging with customer data happens inside the production "
                "environment, under a just-in-time grant.",
            ),
        ],
    ),
    (
        "Reporting a security incident",
        [
            (
                "Report within one hour",
                "Anyone who suspects a security incident - a leaked credential, a "
                "phishing email that was answered, unexpected access to data - "
                "reports it within 1 hour to security@harborlabs.example or in the "
                "#security channel. Reporting a false alarm is never a mistake.",
            ),
            (
                "What happens next",
                "The security engineer on call confirms receipt within 30 minutes, "
                "opens a confidential incident and decides with the reporter on the "
                "first containment steps. Customers affected by a confirmed breach "
                "are informed within 72 hours.",
            ),
            (
                "Exceptions",
                "An exception to this policy is requested in writing from the "
                "CISO, is granted for at most 6 months, and is listed in the "
                "exceptions register.",
            ),
        ],
    ),
]

ARCHITECTURE: list[Page] = [
    (
        "Tidepool architecture overview",
        [
            (
                "The four services",
                "Tidepool is built from four services. The Gateway receives events "
                "over HTTPS. Eddy, the stream processor, validates, enriches and "
                "deduplicates them. Reef stores them in a columnar format. Lagoon "
                "answers queries over Reef. Kafka sits between the Gateway and "
                "Eddy, so that a slow Eddy never slows down ingestion.",
            ),
            (
                "Data flow",
                "A batch accepted by the Gateway is written to the Kafka topic "
                "events.raw before the client receives 202 Accepted. Eddy reads the "
                "topic, writes clean events to Reef every few seconds, and commits "
                "its Kafka offsets only after Reef has confirmed the write, so an "
                "Eddy crash never loses events.",
            ),
        ],
    ),
    (
        "Gateway and Eddy",
        [
            (
                "Gateway",
                "The Gateway is written in Go and runs on 12 nodes in each region "
                "behind a load balancer. It checks the API key, the scopes and the "
                "size limits, then writes the batch to Kafka. Its objective is a "
                "p99 ingest latency of 120 ms, measured from the first byte of the "
                "request to the last byte of the answer.",
            ),
            (
                "Eddy",
                "Eddy consumes events.raw, which has 48 partitions, with one "
                "consumer per partition at most. It drops duplicate events that "
                "carry the same event id within a 24-hour window, adds geographic "
                "and device fields, and routes events to Reef by project.",
            ),
        ],
    ),
    (
        "Reef and Lagoon",
        [
            (
                "Reef",
                "Reef partitions data by project and by day. The last 30 days stay "
                "on local SSDs (the hot tier); older data moves to object storage "
                "and is read through a cache. Every partition is replicated three "
                "times across availability zones.",
            ),
            (
                "Lagoon",
                "Lagoon turns API queries into Reef scans. A query is stopped after "
                "120 seconds; longer analyses run as background queries, added in "
                "release 3.4.0. Identical queries within 10 minutes are answered "
                "from a result cache.",
            ),
        ],
    ),
    (
        "Capacity and regions",
        [
            (
                "Capacity",
                "At the 2024 peak Tidepool ingested 250,000 events per second "
                "across all regions, about a third of its tested capacity. Reef "
                "holds 1.8 petabytes of compressed event data.",
            ),
            (
                "Regions",
                "Tidepool runs in two regions: us-east in Virginia and "
                "eu-central in Frankfurt, opened in February 2024. Each region is "
                "independent: a project lives in exactly one region, chosen when it "
                "is created. An ap-southeast region in Singapore is planned for "
                "2025.",
            ),
        ],
    ),
]


def write_pdf(path: Path, title: str, pages: list[Page]) -> None:
    """Write one PDF: a heading per page, then headed paragraphs."""
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author("Harbor Labs")
    pdf.set_creation_date(CREATED)
    pdf.set_margins(20, 20, 20)
    for page_title, blocks in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.multi_cell(0, 10, page_title, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        for heading, paragraph in blocks:
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    pdf.output(str(path))


def main() -> None:
    """Write both PDFs into ``sample_docs/``."""
    write_pdf(
        OUT / "security-policy.pdf", "Harbor Labs security policy", SECURITY_POLICY
    )
    write_pdf(
        OUT / "architecture-overview.pdf",
        "Tidepool architecture overview",
        ARCHITECTURE,
    )


if __name__ == "__main__":
    main()
