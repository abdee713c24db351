"""The demo's calls for proposals: one run from council approval to allocations, one open for proposals now.

The first call is replayed at past moments (the clock is moved for each step, as in ``council.py``) so that
its notice period, open window, reviews, right to reply, ranking and slate vote really happened in order;
one rejected applicant's appeal is still waiting for an operator. The second call, approved by the council over
the past weeks, opened yesterday and closes weeks from now, so a demo researcher can submit to it today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access import calls, decisions, proposals, reviews
from aicommons.access.calls import TrackTerms
from aicommons.access.models import Call, Policy, ProposalStatus, Track
from aicommons.access.proposals import ProposalText
from aicommons.demo import data
from aicommons.governance import agenda, council
from aicommons.governance import service as governance
from aicommons.governance.rules import Choice
from aicommons.identity import accounts
from aicommons.identity import service as identity
from aicommons.identity.models import Affiliation
from aicommons.identity.policy import Principal

OPERATOR = "operator@aicommons.example"
DEMO_RESEARCHER = "researcher@tu-rheinfeld.example"  # leaves accepting the award to whoever logs in
Y, N, A = Choice.YES, Choice.NO, Choice.ABSTAIN
SCIENCE, INDUSTRY, PUBLIC, SAFETY, FAST = (Track.SCIENCE, Track.INDUSTRY, Track.PUBLIC_SECTOR, Track.SAFETY,
                                           Track.FAST_LANE)
CRITERIA = ("excellence", "impact", "feasibility", "openness", "safety")


@dataclass(frozen=True)
class Idea:
    """A demo proposal and how the panel will see it."""

    pi: str
    track: Track
    title: str
    summary: str
    keywords: tuple[str, ...]
    hours: int
    marks: tuple[int, ...] = ()  # the panel's base marks per criterion; empty for the fast lane
    strength: str = ""
    concern: str = ""
    team: tuple[str, ...] = ()
    accelerator: str = "nvidia-h100"
    licences: tuple[str, str, str] = ("Apache-2.0", "Apache-2.0", "CC-BY-4.0")  # weights, code, data
    reviews: tuple[tuple[int, ...], ...] = ()  # explicit marks per reviewer, where the panel disagrees
    comments: tuple[str, ...] = ()
    fails_check: str = ""
    reply: str = ""
    appeal: str = ""


FIRST_CALL = [
    Idea(DEMO_RESEARCHER, SCIENCE, "EuroLingua: open 7B language models for all 24 official EU languages",
         "We train and release 1B and 7B decoder models on 2.1 trillion tokens of openly licensed text, "
         "up-sampling under-served languages such as Maltese, Irish and Estonian. Weights, data recipes and "
         "training logs are released, with per-language evaluation on an open European benchmark suite.",
         ("language models", "multilingual", "low-resource languages", "benchmarks"), 40_000, (5, 5, 4, 5, 4),
         "The data recipe and the per-language evaluation are described in unusual detail.",
         "The tokenizer choice for morphologically rich languages deserves more justification.",
         team=("j.becker@mlils.example",)),
    Idea("s.rossi@mcmc.example", SCIENCE, "Kilometre-scale climate projections for the Mediterranean",
         "A diffusion model that downscales CMIP6 projections from 100 km to 2 km over the Mediterranean basin, "
         "trained on 40 years of reanalysis and checked against station records. The downscaled heat and heavy-"
         "rain projections are published as open data for regional adaptation planners.",
         ("climate", "downscaling", "weather", "earth observation"), 36_000, (5, 5, 4, 4, 4),
         "A clear path from model to use: regional planners are partners from the start.",
         "Validation of precipitation extremes in mountainous terrain is only sketched.",
         accelerator="nvidia-h200", licences=("Apache-2.0", "BSD-3-Clause", "CC-BY-4.0")),
    Idea("v.korhonen@saimaa-uni.example", SCIENCE, "Speech recognition and synthesis for Sámi and Finnic "
         "minority languages",
         "Self-supervised speech models adapted to North Sámi, Inari Sámi, Võro and Karelian with recordings "
         "made by the communities, so that broadcasters and schools can caption and read aloud in these "
         "languages. Models, a 300-hour open corpus and test sets are released with the speakers' consent.",
         ("speech", "low-resource languages", "multilingual"), 30_000, (4, 5, 4, 5, 4),
         "Community consent and data governance are handled exemplarily.",
         "The synthesis part needs more hours than the plan suggests.", team=("k.saar@baltic-annot.example",)),
    Idea("t.girard@univ-valmont.example", SCIENCE, "A federated foundation model for chest CT",
         "A self-supervised vision model pretrained on chest CT scans that never leave the eleven partner "
         "hospitals: training is federated and only model updates reach the facility. The model and its "
         "evaluation on lung-nodule and emphysema tasks are released; the scans stay where they are.",
         ("medical imaging", "federated learning", "privacy", "health"), 30_000,
         reviews=((5, 5, 4, 5, 4), (2, 3, 2, 3, 2), (4, 4, 4, 4, 4)),
         comments=("An ambitious, well-argued design; federation is the right answer to data protection here.",
                   "The privacy analysis does not address membership inference on the shared updates, and the "
                   "hospital agreements are not yet signed; I doubt the timeline.",
                   "A good proposal with clinically relevant evaluation tasks."),
         reply="We thank the reviewers. On membership inference (Reviewer 2): updates are clipped and combined "
               "by secure aggregation with differential privacy at epsilon 8 (section 4.2). Nine of the eleven "
               "hospitals signed their agreements after submission; the other two join in month four without "
               "changing the compute plan."),
    Idea("m.bakker@dhut.example", SCIENCE, "Energy-proportional training: sparse mixture-of-experts at a third "
         "less energy",
         "We measure the energy of every training step of dense and sparse mixture-of-experts models from 1B to "
         "8B parameters on the facility's nodes, and publish a recipe that reaches the same quality with about "
         "30% less energy. Code, logs, power traces and checkpoints are all released.",
         ("energy efficiency", "language models", "benchmarks"), 24_000, (4, 4, 4, 5, 3),
         "Publishing power traces per step is genuinely new and useful to every user of the facility.",
         "The comparison should include a dense baseline trained with the same data order."),
    Idea("j.lefevre@lumiere-ia.example", SCIENCE, "Where do multilingual models keep their languages?",
         "Sparse autoencoders trained on the activations of open 7B multilingual models, to find and publish "
         "the features that carry language identity, translation and factual recall, and to test whether "
         "steering them reduces language confusion in low-resource languages.",
         ("interpretability", "language models", "multilingual"), 20_000, (5, 4, 4, 5, 4),
         "A sharp research question and a credible team.",
         "The link from the features found to a measurable benefit for users could be made clearer."),
    Idea("l.fernandez@usa-sierra.example", SCIENCE, "An open Earth-observation model for drought and crop "
         "monitoring in southern Europe",
         "A vision transformer pretrained on ten years of Sentinel-1 and Sentinel-2 imagery over Iberia, Italy "
         "and Greece, fine-tuned with agricultural cooperatives for crop mapping and early drought warning. "
         "Weights and the labelled evaluation set are released.",
         ("earth observation", "agriculture", "climate", "vision"), 32_000, (4, 4, 3, 4, 4),
         "Strong user involvement through the cooperatives.",
         "The pretraining budget looks generous compared with similar published models.",
         licences=("Apache-2.0", "Apache-2.0", "CC-BY-SA-4.0")),
    Idea("z.lewandowska@wic.example", SCIENCE, "Code language models for scientific Fortran and Julia",
         "Continued pretraining of an open 3B code model on permissively licensed scientific Fortran and "
         "Julia, to help research groups modernise legacy simulation codes. Evaluation uses the unit tests of "
         "40 open scientific packages.",
         ("code models", "language models", "benchmarks"), 18_000, (2, 3, 2, 3, 3),
         "A real need in computational science.",
         "The work plan reads as training from scratch and the hours do not match the stated model size.",
         appeal="The reviews judge feasibility as if we trained from scratch. Section 3 states that we continue "
                "pretraining an existing open 3B checkpoint, which needs about a tenth of the hours; two of the "
                "three reviews do not mention it. We ask for the feasibility scores to be reconsidered."),
    Idea("e.lindgren@norrsken-speech.example", INDUSTRY, "Small on-device speech models for Nordic public-"
         "service call centres",
         "Distilled speech recognition models under 200M parameters for Swedish, Norwegian, Danish and Finnish "
         "that run on a call-centre PC without sending audio to the cloud. Models and the distillation recipe "
         "are released; the anonymised test set too.",
         ("speech", "energy efficiency", "multilingual"), 15_000, (4, 4, 5, 4, 4),
         "Very feasible, with a clear public-interest use.",
         "Accent coverage within each language is not discussed.", licences=("Apache-2.0", "MIT", "CC-BY-4.0")),
    Idea("l.moreau@semaphore-sante.example", INDUSTRY, "Radiology report drafting with findings linked to the "
         "image",
         "A vision-language model that drafts radiology reports in French and links every finding to the image "
         "region it rests on, so the radiologist can check it at a glance. Trained on de-identified data from "
         "two hospitals; weights released, evaluation on public datasets.",
         ("medical imaging", "health", "language models"), 20_000, (4, 4, 3, 3, 3),
         "Grounding each finding in the image is the right design for clinical safety.",
         "The release of the weights depends on a clinical partner's approval that is not yet given."),
    Idea("c.garcia@ihi.example", INDUSTRY, "Clinical coding assistant for Spanish and Catalan hospital records",
         "A model that proposes ICD-10 codes for discharge summaries in Spanish and Catalan, fine-tuned inside "
         "three hospitals by federated learning. Weights and a synthetic evaluation corpus are released; no "
         "patient text leaves the hospitals.",
         ("health", "language models", "document understanding", "privacy"), 16_000, (3, 4, 3, 3, 4),
         "Useful to hospitals across Spain, with a sensible privacy design.",
         "The synthetic evaluation corpus may not reflect the real distribution of codes."),
    Idea("j.novak@klt.example", INDUSTRY, "Open language models for Polish and Czech legal documents",
         "An open 7B model adapted to Polish and Czech statutes and court decisions, for search, summaries and "
         "plain-language explanations in legal-aid clinics. The model, the cleaned legal corpus (public-domain "
         "sources only) and a benchmark are released.",
         ("legal text", "language models", "document understanding"), 18_000, (3, 4, 3, 4, 3),
         "Legal aid is a good use case, and the corpus alone is a contribution.",
         "Hallucinated citations are the main risk and the evaluation of them is thin."),
    Idea("f.keller@helvetia-med.example", INDUSTRY, "A whole-slide pathology foundation model",
         "A foundation model for whole-slide pathology images, pretrained on 60 TB of slides from Swiss and "
         "German hospitals to support tumour grading. Weights are released after clinical validation.",
         ("medical imaging", "health"), 20_000, accelerator="amd-mi300x",
         fails_check="Not eligible as submitted: the training code relies on CUDA-only kernels (FlashAttention 3 "
                     "and custom Triton kernels written for Hopper GPUs) but the proposal asks for AMD MI300X "
                     "nodes and gives no port or fallback, so the hours could not be used as planned. The data "
                     "management plan also does not say where the 60 TB of slides would be staged. Please "
                     "resubmit to the next call on H100 or H200 nodes."),
    Idea("h.makinen@fapd.example", PUBLIC, "Reading public-administration forms in 24 languages",
         "Document-understanding models that extract the fields of scanned and handwritten administrative forms "
         "in all official EU languages, for agencies that still receive paper. Trained on synthetic forms and "
         "20,000 consented real ones; models and the synthetic-form generator are released.",
         ("document understanding", "public sector", "multilingual"), 18_000, (4, 5, 4, 4, 4),
         "Immediately useful to many agencies.", "Handwriting in less common scripts is under-represented."),
    Idea("n.tamm@tegl.example", PUBLIC, "An open e-government assistant for Estonian and Russian speakers",
         "A retrieval-grounded assistant that answers residents' questions about public services in Estonian "
         "and Russian, citing the official page it used, evaluated with the service desks of two ministries. "
         "The model, the index of public pages and the evaluation set are open.",
         ("public sector", "language models", "low-resource languages", "retrieval"), 10_000, (4, 4, 4, 4, 4),
         "Grounding every answer in an official page is exactly right for a public service.",
         "What the assistant does when no page answers the question is not described.",
         reply="Thank you. When no official page supports an answer, the assistant says so and gives the "
               "service desk's contact; the evaluation in section 5 measures how often it declines."),
    Idea("f.greco@ald.example", PUBLIC, "Plain-language rewriting of Italian administrative texts",
         "A model that rewrites Italian administrative letters into plain language at level B1 while keeping "
         "every legal obligation, checked by a second model and by the staff of three municipalities. Released "
         "with a parallel corpus of 15,000 original and rewritten letters.",
         ("public sector", "language models", "document understanding"), 14_000, (3, 5, 4, 4, 4),
         "High impact for citizens.", "Checking that no obligation is lost needs a stronger method than a "
         "second model."),
    Idea("safety@opensafety.example", SAFETY, "An open red-teaming benchmark for multilingual jailbreaks",
         "A continuously updated benchmark of jailbreak attacks in 30 languages, with automated attackers "
         "trained on the facility and a public leaderboard for open models. Attacks that could cause serious "
         "harm go to model developers under coordinated disclosure before release.",
         ("red teaming", "safety evaluation", "multilingual", "benchmarks"), 15_000, (5, 5, 4, 4, 5),
         "The disclosure process is mature and the benchmark fills a real gap.",
         "Keeping the leaderboard from being overfitted needs a held-out set.",
         licences=("Apache-2.0", "Apache-2.0", "CC-BY-NC-4.0")),
    Idea("p.santos@atlantico-ri.example", SAFETY, "Measuring hallucination in clinical question answering",
         "An evaluation suite of 5,000 clinician-written questions in Portuguese, Spanish and English with graded "
         "reference answers, to measure how often open models invent facts and whether retrieval helps. "
         "Questions, answers and scoring code are released.",
         ("safety evaluation", "health", "benchmarks"), 9_000, (4, 4, 4, 4, 5),
         "Careful annotation protocol with clinicians.", "Inter-annotator agreement targets are not stated."),
    Idea("j.becker@mlils.example", SAFETY, "Long-context deception: do open models keep hidden goals?",
         "Fine-tuning open models with planted hidden objectives and testing whether interpretability and "
         "behavioural probes find them in contexts of up to 128,000 tokens. The model organisms, probes and "
         "results are published so that others can test their own detection methods.",
         ("safety evaluation", "interpretability", "language models"), 12_000, (4, 3, 4, 4, 4),
         "A well-designed testbed for detection methods.",
         "Releasing the model organisms needs a clearer misuse assessment."),
    Idea("d.visser@poldermodels.example", FAST, "Reproducing the Dutch open-model leaderboard",
         "Re-running every evaluation on the Dutch open-model leaderboard with pinned software versions and "
         "publishing the logs, so that anyone can reproduce its numbers.", ("benchmarks", "language models"),
         1_200),
    Idea("k.saar@baltic-annot.example", FAST, "Quality estimation for crowd annotations in Baltic languages",
         "A small model that flags unreliable crowd annotations in Estonian, Latvian and Lithuanian before they "
         "enter a training set, trained on 90,000 doubly annotated items.", ("low-resource languages",), 800),
    Idea("o.nilsson@nordicweather.example", FAST, "Fine-tuning an open weather model for Baltic Sea ice",
         "Fine-tuning an open global weather model on 20 years of Baltic ice charts to forecast ice cover ten "
         "days ahead for winter shipping; weights and forecasts are open.", ("weather", "climate"), 1_500),
]

SECOND_CALL = [
    Idea("t.zupan@losc.example", SCIENCE, "An open research assistant for Slovene scholarly literature",
         "An assistant that answers questions over the national repository of Slovene theses and papers, citing "
         "its sources, built on an open 7B model adapted to Slovene. The index, the adapted model and a Slovene "
         "question-answering benchmark are released.", ("retrieval", "language models", "low-resource languages"),
         12_000),
    Idea("m.weber@kranich-robotics.example", INDUSTRY, "Defect-detection vision models for small manufacturers",
         "Open vision models that detect surface defects in metal and plastic parts, trained on a dataset pooled "
         "by twelve small manufacturers, with a recipe for fine-tuning on a few hundred images of a new part.",
         ("vision", "robotics"), 12_000),
    Idea("g.conti@polarnova.example", SCIENCE, "Robot manipulation policies learned from open simulation data",
         "Generalist manipulation policies for low-cost robot arms trained only on procedurally generated "
         "simulation, measuring how much skill transfers to real arms in three partner labs. Simulation assets, "
         "policies and evaluation videos are released.", ("robotics", "vision"), 28_000),
]


FIRST_TRACKS = [TrackTerms(SCIENCE, 165_000, 40_000, 5_000), TrackTerms(INDUSTRY, 50_000, 20_000, 2_500),
                TrackTerms(PUBLIC, 45_000, 20_000, 2_500), TrackTerms(SAFETY, 35_000, 15_000, 2_500),
                TrackTerms(FAST, 5_000, 1_500, 250)]
SECOND_TRACKS = [TrackTerms(SCIENCE, 240_000, 40_000, 5_000), TrackTerms(INDUSTRY, 80_000, 20_000, 2_500),
                 TrackTerms(PUBLIC, 60_000, 20_000, 2_500), TrackTerms(SAFETY, 50_000, 15_000, 2_500),
                 TrackTerms(FAST, 8_000, 2_000, 250)]
DESCRIPTION = ("GPU time on the facility for open AI in the public interest: science, industry and SMEs, the public "
               "sector, safety research, and a fast lane for small requests (technical review only). Models, data "
               "and code produced with the hours are released openly. Proposals are peer reviewed against the "
               "published rubric, with conflicts of interest enforced; applicants may reply to their reviews; "
               "the ranking and the allocation slate are public and the council votes the slate.")
CALL_VOTES = {"DE": (Y, None), "FR": (Y, None), "IT": (Y, None), "ES": (Y, None), "NL": (Y, None),
              "SE": (Y, None), "PL": (Y, "A fast lane for small teams is welcome."), "FI": (Y, None), "PT": (Y, None),
              "CH": (A, "We would have preferred a separate health track.")}
SLATE_VOTES = {"DE": (Y, None), "FR": (Y, None), "IT": (Y, None), "NL": (Y, None), "SE": (Y, None),
               "FI": (Y, "The share-aware cap applied to Finland as the rules say."), "PT": (Y, None), "PL": (Y, None),
               "ES": (A, "A strong Spanish industry proposal missed out because the industry pool is small; the "
                         "next call should enlarge it."),
               "CH": (N, "Switzerland's only applicant failed the technical check; the call should explain the "
                         "hardware better.")}
BANDS = {  # reviewer comment templates by how well the proposal did, and the panel-only note
    "high": (("{s} The work plan is realistic for the hours requested. {c}", "Strong proposal. {s} Minor point: {l}",
              "{s} I would fund it as requested. {c}"), "Clear fund."),
    "mid": (("{s} However, {l}", "Solid but not outstanding. {c}", "{s} The main weakness: {l}"),
            "Fundable if the pool allows."),
    "low": (("{c} {s}", "Not convincing yet. {c}", "{c} I would encourage a revised resubmission."),
            "Not ready; encourage resubmission."),
}


@dataclass(frozen=True)
class Days:
    """Moments counted in whole days from the day of seeding (UTC): the story ends just before now."""

    today: datetime

    def at(self, day: int, hour: int = 9) -> datetime:
        return self.today + timedelta(days=day, hours=hour)


def _who(session: Session, email: str) -> Principal:
    return accounts.principal_for(accounts.get_person_by_email(session, email))


def seed_access(session: Session) -> int:
    """Create the demo's calls once (after the council's record); returns how many calls were added."""
    if session.scalar(select(func.count()).select_from(Call)):
        return 0
    days = Days(clock.now().replace(hour=0, minute=0, second=0, microsecond=0))
    _seed_reviewers(session, days)
    # Share-aware when the council has a contribution scale in force (the demo council adopted one).
    policy = Policy.SHARE_AWARE if governance.scale_in_force(session) is not None else Policy.MERIT
    ideas = _first_call(session, policy, days)
    _after_the_vote(session, ideas)
    _second_call(session, policy, approve=days.at(-21), opens=days.at(-1, hour=12), closes=days.at(45, hour=17))
    return 2


def _seed_reviewers(session: Session, days: Days) -> None:
    """Expertise, past affiliations and institution aliases: what assignment and conflict checks read."""
    for email, (keywords, max_load) in data.REVIEWER_EXPERTISE.items():
        if reviews.expertise_of(session, accounts.get_person_by_email(session, email).id) is None:
            reviews.set_expertise(session, actor=_who(session, email), keywords=keywords, max_load=max_load)
    for email, domain, started, ended_days_ago in data.AFFILIATIONS:
        person = accounts.get_person_by_email(session, email)
        past = identity.institution_for_email(session, f"x@{domain}")
        if past is None or session.scalar(select(Affiliation).where(Affiliation.person_id == person.id)):
            continue
        left = days.today.date() - timedelta(days=ended_days_ago)
        accounts.record_affiliation(session, actor=None, person_id=person.id, institution_id=past.id,
                                    started_on=date.fromisoformat(started), ended_on=left)
    for domain, alias in data.INSTITUTION_ALIASES:
        institution = identity.institution_for_email(session, f"x@{domain}")
        if institution is not None:
            known = identity.institution_aliases(session, institution.id)
            identity.set_institution_aliases(session, actor=None, institution_id=institution.id,
                                             aliases=[*known, alias])
    session.flush()


def _vote(session: Session, motion_id: int, start: datetime, votes: dict, voting_days: int = 7) -> datetime:
    """Notice, voting by the demo delegates, close, tally, publish; returns the moment it was published."""
    operator = _who(session, OPERATOR)
    with clock.frozen_at(start):
        council.give_notice(session, actor=operator, motion_id=motion_id)
    opened = start + timedelta(days=agenda.constitution(session).notice_days)
    with clock.frozen_at(opened):
        motion = council.open_voting(session, actor=operator, motion_id=motion_id, voting_days=voting_days)
    delegates = {role.split(":")[1]: email for email, _, _, roles in data.PEOPLE
                 for role in roles if role.startswith("delegate:")}
    for n, (code, (choice, why)) in enumerate(votes.items()):
        if code in motion.electorate["eligible"]:
            with clock.frozen_at(opened + timedelta(hours=2 + 5 * n)):
                council.cast_ballot(session, actor=_who(session, delegates[code]), motion_id=motion_id,
                                    choice=choice, explanation=why)
    published = opened + timedelta(days=voting_days)
    with clock.frozen_at(published):
        council.close_voting(session, actor=operator, motion_id=motion_id)
        council.tally_motion(session, actor=operator, motion_id=motion_id)
        council.publish_motion(session, actor=operator, motion_id=motion_id)
    return published


def _draft_call(session: Session, *, title: str, policy: Policy, at: datetime, opens: datetime, closes: datetime,
                starts: date, tracks: list[TrackTerms]) -> Call:
    operator = _who(session, OPERATOR)
    with clock.frozen_at(at):
        call = calls.create_call(session, actor=operator, title=title, description=DESCRIPTION, opens_at=opens,
                                 closes_at=closes, allocation_starts_on=starts, tracks=tracks, policy=policy,
                                 tolerance="1/10")
        calls.submit_for_approval(session, actor=operator, call_id=call.id)
    return call


def _text(idea: Idea) -> ProposalText:
    weights, code, datasets = idea.licences
    plan = ("Training data are openly licensed or used with the contributors' consent; datasets we create are "
            "deposited with a persistent identifier and a Croissant description; checkpoints stay on the "
            "facility's storage until release.")
    safety = ("Outputs are evaluated with the facility's open safety suite before release; misuse risks are "
              "documented in the model card and serious findings go through coordinated disclosure.")
    return ProposalText(track=idea.track, title=idea.title, summary=idea.summary, keywords=list(idea.keywords),
                        requested_hours=idea.hours, accelerator=idea.accelerator,
                        duration_months=6 if idea.track is FAST else 12, licence_weights=weights,
                        licence_code=code, licence_data=datasets, release_within_months=6, safety_statement=safety,
                        data_management_plan=plan, team=list(idea.team))


def _submit(session: Session, call: Call, ideas: list[Idea], first: datetime, last: datetime) -> dict[int, Idea]:
    """Each idea drafted and submitted by its PI, spread over the open window."""
    submitted = {}
    for n, idea in enumerate(ideas):
        pi = _who(session, idea.pi)
        with clock.frozen_at(first + timedelta(days=n * (last - first).days // len(ideas), hours=n % 7)):
            proposal = proposals.create_proposal(session, actor=pi, call_id=call.id, text=_text(idea))
            proposals.submit_proposal(session, actor=pi, proposal_id=proposal.id)
        submitted[proposal.id] = idea
    return submitted


def _first_call(session: Session, policy: Policy, days: Days) -> dict[int, Idea]:
    """From the council's approval to the slate's: proposals, checks, reviews, replies, ranking, the vote."""
    operator = _who(session, OPERATOR)
    approve, closes = days.at(-138), days.at(-85, hour=17)
    call = _draft_call(session, title="First call: open AI for the public good", policy=policy, at=approve,
                       opens=days.at(-115), closes=closes, starts=(closes + timedelta(days=64)).date(),
                       tracks=FIRST_TRACKS)
    _vote(session, call.approval_motion_id, approve, CALL_VOTES)
    ideas = _submit(session, call, FIRST_CALL, days.at(-114, hour=10), days.at(-86, hour=10))
    with clock.frozen_at(closes):
        calls.close_call(session, actor=operator, call_id=call.id)
    with clock.frozen_at(closes + timedelta(days=1)):
        for pid, idea in ideas.items():
            proposals.record_technical_check(session, actor=operator, proposal_id=pid, passed=not idea.fails_check,
                                             notes=idea.fails_check)
    with clock.frozen_at(closes + timedelta(days=2)):
        reviews.assign_automatically(session, actor=operator, call_id=call.id)
    _review(session, call.id, ideas, closes + timedelta(days=4))
    released = closes + timedelta(days=23)
    with clock.frozen_at(released):
        reviews.release_reviews(session, actor=operator, call_id=call.id)
    for n, (pid, idea) in enumerate((pid, idea) for pid, idea in ideas.items() if idea.reply):
        with clock.frozen_at(released + timedelta(days=5 + 4 * n, hours=6)):
            proposals.reply_to_reviews(session, actor=_who(session, idea.pi), proposal_id=pid, reply=idea.reply)
    with clock.frozen_at(released + timedelta(days=call.reply_days, hours=1)):
        decisions.rank_call(session, actor=operator, call_id=call.id)
    slate_day = released + timedelta(days=call.reply_days + 2)
    with clock.frozen_at(slate_day):
        slate = decisions.propose_slate(session, actor=operator, call_id=call.id)
    _vote(session, slate.motion_id, slate_day, SLATE_VOTES)
    return ideas


def _review(session: Session, call_id: int, ideas: dict[int, Idea], start: datetime) -> None:
    """Each reviewer scores what they were assigned: the idea's marks, one point up here and there."""
    pairs = [(a.proposal_id, a.reviewer.email) for a in reviews.live_assignments(session, call_id)]
    seen: dict[int, int] = {}
    for n, (pid, email) in enumerate(pairs):
        idea, k = ideas[pid], seen.get(pid, 0)
        seen[pid] = k + 1
        marks = idea.reviews[k] if idea.reviews else tuple(
            min(5, mark + ((k + j + pid) % 3 == 0)) for j, mark in enumerate(idea.marks))
        mean = sum(marks) / len(marks)
        templates, note = BANDS["high" if mean >= 4.2 else "mid" if mean >= 3.2 else "low"]
        comment = idea.comments[k] if idea.comments else templates[k % 3].format(
            s=idea.strength, c=idea.concern, l=idea.concern[0].lower() + idea.concern[1:])
        with clock.frozen_at(start + timedelta(days=n * 16 // len(pairs), hours=n % 9)):
            reviews.submit_review(session, actor=_who(session, email), proposal_id=pid,
                                  scores=dict(zip(CRITERIA, marks, strict=True)), comments_for_applicants=comment,
                                  confidential_comments=note)


def _second_call(session: Session, policy: Policy, *, approve: datetime, opens: datetime, closes: datetime) -> None:
    """Approved by the council just before it opened; open now and for weeks to come."""
    call = _draft_call(session, title="Second call: open AI for the public good", policy=policy, at=approve,
                       opens=opens, closes=closes, starts=(closes + timedelta(days=45)).date(), tracks=SECOND_TRACKS)
    _vote(session, call.approval_motion_id, approve, CALL_VOTES, voting_days=6)
    first = opens + timedelta(hours=1)
    _submit(session, call, SECOND_CALL, first, first)  # early birds, within hours of the opening


def _after_the_vote(session: Session, ideas: dict[int, Idea]) -> None:
    """Funded teams accept their awards (the demo researcher's waits for them); one rejection is appealed."""
    for n, (pid, idea) in enumerate(ideas.items()):
        proposal = proposals.get_proposal(session, pid)
        assert proposal.decided_at is not None
        morning = proposal.decided_at.replace(hour=9, minute=0, second=0, microsecond=0)
        with clock.frozen_at(morning + timedelta(days=1 + n % 3, hours=n % 8)):
            if proposal.status is ProposalStatus.APPROVED and idea.pi != DEMO_RESEARCHER:
                proposals.accept_award(session, actor=_who(session, idea.pi), proposal_id=pid)
            elif proposal.status is ProposalStatus.REJECTED and idea.appeal:
                proposals.lodge_appeal(session, actor=_who(session, idea.pi), proposal_id=pid, grounds=idea.appeal)
