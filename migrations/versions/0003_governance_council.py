"""Governance: contribution scales and dues, the constitution (founding version 1), motions and ballots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:26:10.187489
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    constitution = op.create_table(
        "constitution_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("notice_days", sa.Integer(), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adopted_by_motion_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_constitution_versions")),
    )
    op.create_table(
        "motions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "policy",
                "budget",
                "contribution_scale",
                "admission",
                "constitution_amendment",
                "call_approval",
                "slate_approval",
                name="motion_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "notice",
                "voting",
                "closed",
                "tallied",
                "published",
                name="motion_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_given_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("constitution_version", sa.Integer(), nullable=True),
        sa.Column("rule", sa.JSON(), nullable=True),
        sa.Column("electorate", sa.JSON(), nullable=True),
        sa.Column("text_digest", sa.String(length=64), nullable=True),
        sa.Column("voting_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voting_closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tally", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("tallied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["constitution_version"],
            ["constitution_versions.version"],
            name=op.f("fk_motions_constitution_version_constitution_versions"),
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["people.id"], name=op.f("fk_motions_created_by_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_motions")),
    )
    with op.batch_alter_table("motions", schema=None) as batch_op:
        batch_op.create_index("ix_motions_status", ["status"], unique=False)

    op.create_table(
        "ballots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("motion_id", sa.Integer(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column(
            "choice",
            sa.Enum("yes", "no", "abstain", name="ballot_choice", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("cast_by_id", sa.Integer(), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["cast_by_id"], ["people.id"], name=op.f("fk_ballots_cast_by_id_people")),
        sa.ForeignKeyConstraint(
            ["member_state_code"], ["member_states.code"], name=op.f("fk_ballots_member_state_code_member_states")
        ),
        sa.ForeignKeyConstraint(["motion_id"], ["motions.id"], name=op.f("fk_ballots_motion_id_motions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballots")),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index("ix_ballots_motion_state", ["motion_id", "member_state_code", "id"], unique=False)

    op.create_table(
        "contribution_dues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("due_eur", sa.BigInteger(), nullable=False),
        sa.Column("paid_eur", sa.BigInteger(), nullable=False),
        sa.Column("vote_waiver_motion_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_state_code"],
            ["member_states.code"],
            name=op.f("fk_contribution_dues_member_state_code_member_states"),
        ),
        sa.ForeignKeyConstraint(
            ["vote_waiver_motion_id"], ["motions.id"], name=op.f("fk_contribution_dues_vote_waiver_motion_id_motions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_dues")),
        sa.UniqueConstraint("member_state_code", "year", name=op.f("uq_contribution_dues_member_state_code_year")),
    )
    with op.batch_alter_table("contribution_dues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contribution_dues_member_state_code"), ["member_state_code"], unique=False)

    op.create_table(
        "contribution_scales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "in_force",
                "superseded",
                name="scale_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("workings", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_by_id", sa.Integer(), nullable=True),
        sa.Column("adopted_by_motion_id", sa.Integer(), nullable=True),
        sa.Column("in_force_from", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["adopted_by_motion_id"], ["motions.id"], name=op.f("fk_contribution_scales_adopted_by_motion_id_motions")
        ),
        sa.ForeignKeyConstraint(
            ["computed_by_id"], ["people.id"], name=op.f("fk_contribution_scales_computed_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_scales")),
    )
    op.create_table(
        "motion_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("motion_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["motion_id"], ["motions.id"], name=op.f("fk_motion_attachments_motion_id_motions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_motion_attachments")),
        sa.UniqueConstraint("motion_id", "filename", name=op.f("uq_motion_attachments_motion_id_filename")),
    )
    with op.batch_alter_table("motion_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_motion_attachments_motion_id"), ["motion_id"], unique=False)

    op.create_table(
        "contribution_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scale_id", sa.Integer(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("share", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_state_code"],
            ["member_states.code"],
            name=op.f("fk_contribution_shares_member_state_code_member_states"),
        ),
        sa.ForeignKeyConstraint(
            ["scale_id"],
            ["contribution_scales.id"],
            name=op.f("fk_contribution_shares_scale_id_contribution_scales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_shares")),
        sa.UniqueConstraint(
            "scale_id", "member_state_code", name=op.f("uq_contribution_shares_scale_id_member_state_code")
        ),
    )
    # The founding constitution, frozen here as data: CERN's Convention (see governance/rules.py). Later
    # versions come only by amendment motions, so this text never changes with the code.
    half = {
        "base": "present_and_voting",
        "threshold": "1/2",
        "weighting": "one_state_one_vote",
        "weighted_threshold": None,
        "tie": "fails",
        "quorum": "1/2",
        "quorum_strict": True,
        "abstentions": "present_not_voting",
    }
    two_thirds_present = {**half, "threshold": "2/3", "tie": "passes"}
    two_thirds_all = {**two_thirds_present, "base": "all_members"}
    unanimity_all = {**two_thirds_all, "threshold": "1"}
    rules = {
        "policy": half,
        "call_approval": half,
        "slate_approval": half,
        "budget": two_thirds_present,
        "contribution_scale": two_thirds_all,
        "admission": unanimity_all,
        "constitution_amendment": two_thirds_all,
    }
    op.bulk_insert(
        constitution,
        [
            {
                "version": 1,
                "rules": rules,
                "notice_days": 14,
                "adopted_at": datetime(2025, 1, 1, tzinfo=UTC),
                "adopted_by_motion_id": None,
            }
        ],
    )


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table("contribution_shares")
    with op.batch_alter_table("motion_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_motion_attachments_motion_id"))

    op.drop_table("motion_attachments")
    op.drop_table("contribution_scales")
    with op.batch_alter_table("contribution_dues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_dues_member_state_code"))

    op.drop_table("contribution_dues")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index("ix_ballots_motion_state")

    op.drop_table("ballots")
    with op.batch_alter_table("motions", schema=None) as batch_op:
        batch_op.drop_index("ix_motions_status")

    op.drop_table("motions")
    op.drop_table("constitution_versions")
    # ### end Alembic commands ###
