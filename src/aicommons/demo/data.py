"""Illustrative demo data. Names are fictional; economic figures are rounded illustrations, not statistics."""

from __future__ import annotations

FIGURE_SOURCE = "Illustrative demo figure (not official statistics)"
FIGURE_YEARS = (2023, 2024, 2025)

# code, status, admitted_on, NNI 2025 in millions of euros (illustrative), NNI/GDP ratio (None: NNI missing)
STATES = [
    ("DE", "member", "2025-03-01", 3_650_000, 0.86),
    ("FR", "member", "2025-03-01", 2_500_000, 0.87),
    ("IT", "member", "2025-03-01", 1_780_000, 0.86),
    ("ES", "member", "2025-03-01", 1_300_000, 0.86),
    ("NL", "member", "2025-03-01", 890_000, 0.85),
    ("SE", "member", "2025-03-01", 490_000, 0.85),
    ("PL", "member", "2025-06-15", 720_000, None),
    ("FI", "member", "2025-03-01", 240_000, 0.85),
    ("PT", "member", "2025-06-15", 230_000, 0.84),
    ("CH", "member", "2025-09-01", 700_000, 0.87),
    ("SI", "associate_member", "2026-01-20", 55_000, 0.86),
    ("EE", "associate_member", "2026-01-20", 33_000, None),
    ("CA", "observer", "2026-04-01", 1_850_000, 0.85),
]

# name, country, kind, email domain
INSTITUTIONS = [
    ("Technical University of Rheinfeld", "DE", "university", "tu-rheinfeld.example"),
    ("Max Lindqvist Institute for Learning Systems", "DE", "research_institute", "mlils.example"),
    ("Kranich Robotics GmbH", "DE", "sme", "kranich-robotics.example"),
    ("Federal Office for Digital Services", "DE", "public_agency", "bfds.example"),
    ("Université de Valmont", "FR", "university", "univ-valmont.example"),
    ("Institut Lumière pour l'IA", "FR", "research_institute", "lumiere-ia.example"),
    ("Sémaphore Santé SAS", "FR", "sme", "semaphore-sante.example"),
    ("Politecnico di Arnova", "IT", "university", "polarnova.example"),
    ("Agenzia per la Lingua Digitale", "IT", "public_agency", "ald.example"),
    ("Universidad de Sierra Alta", "ES", "university", "usa-sierra.example"),
    ("Olivo Data Cooperativa", "ES", "sme", "olivodata.example"),
    ("Delft-Haven University of Technology", "NL", "university", "dhut.example"),
    ("Polder Open Models Foundation", "NL", "ngo", "poldermodels.example"),
    ("Norrsken Speech AB", "SE", "sme", "norrsken-speech.example"),
    ("Uppmark University", "SE", "university", "uppmark.example"),
    ("Wisła Institute of Computing", "PL", "research_institute", "wic.example"),
    ("Kraków Language Technologies sp. z o.o.", "PL", "company", "klt.example"),
    ("University of Saimaa", "FI", "university", "saimaa-uni.example"),
    ("Finnish Agency for Public Data", "FI", "public_agency", "fapd.example"),
    ("Atlântico Research Institute", "PT", "research_institute", "atlantico-ri.example"),
    ("Alpenrose Federal Institute of Technology", "CH", "university", "alpenrose-eth.example"),
    ("Helvetia Medical AI AG", "CH", "company", "helvetia-med.example"),
    ("Ljubljana Open Science Centre", "SI", "ngo", "losc.example"),
    ("Tallinn E-Governance Lab", "EE", "public_agency", "tegl.example"),
    ("Baltic Annotation Cooperative", "EE", "sme", "baltic-annot.example"),
    ("Université du Saint-Laurent", "CA", "university", "usl-ca.example"),
    ("Open Safety Collective", "NL", "ngo", "opensafety.example"),
    ("Mediterranean Climate Modelling Centre", "IT", "research_institute", "mcmc.example"),
    ("Iberian Health Informatics SL", "ES", "company", "ihi.example"),
    ("Nordic Weather Foundation", "SE", "ngo", "nordicweather.example"),
]

# (email, display name, institution domain or None, roles); a role "delegate:XX" is a delegate of XX.
PEOPLE = [
    ("operator@aicommons.example", "Olga Operator", None, ["operator"]),
    ("ops2@aicommons.example", "Tomás Ferreira", None, ["operator"]),
    ("auditor@aicommons.example", "Aino Auditor", None, ["auditor"]),
    ("delegate.de@bfds.example", "Dieter Delegate", "bfds.example", ["delegate:DE"]),
    ("delegate.fr@lumiere-ia.example", "Camille Rousseau", "lumiere-ia.example", ["delegate:FR"]),
    ("delegate.it@ald.example", "Giulia Marino", "ald.example", ["delegate:IT"]),
    ("delegate.es@usa-sierra.example", "Javier Ortega", "usa-sierra.example", ["delegate:ES"]),
    ("delegate.nl@poldermodels.example", "Sanne de Vries", "poldermodels.example", ["delegate:NL"]),
    ("delegate.se@uppmark.example", "Lars Ekström", "uppmark.example", ["delegate:SE"]),
    ("delegate.pl@wic.example", "Agnieszka Nowak", "wic.example", ["delegate:PL"]),
    ("delegate.fi@fapd.example", "Mikko Laine", "fapd.example", ["delegate:FI"]),
    ("delegate.pt@atlantico-ri.example", "Inês Carvalho", "atlantico-ri.example", ["delegate:PT"]),
    ("delegate.ch@alpenrose-eth.example", "Urs Brunner", "alpenrose-eth.example", ["delegate:CH"]),
    ("delegate.si@losc.example", "Maja Kovač", "losc.example", ["delegate:SI"]),
    ("reviewer@saimaa-uni.example", "Riikka Reviewer", "saimaa-uni.example", ["reviewer"]),
    ("r.bianchi@polarnova.example", "Roberto Bianchi", "polarnova.example", ["reviewer"]),
    ("h.jansen@dhut.example", "Hanneke Jansen", "dhut.example", ["reviewer"]),
    ("k.wojcik@wic.example", "Krzysztof Wójcik", "wic.example", ["reviewer", "researcher"]),
    ("a.dubois@univ-valmont.example", "Amélie Dubois", "univ-valmont.example", ["reviewer"]),
    ("researcher@tu-rheinfeld.example", "Rahel Researcher", "tu-rheinfeld.example", ["researcher"]),
    ("l.moreau@semaphore-sante.example", "Léa Moreau", "semaphore-sante.example", ["researcher"]),
    ("e.lindgren@norrsken-speech.example", "Erik Lindgren", "norrsken-speech.example", ["researcher"]),
    ("p.santos@atlantico-ri.example", "Pedro Santos", "atlantico-ri.example", ["researcher"]),
    ("m.weber@kranich-robotics.example", "Mara Weber", "kranich-robotics.example", ["researcher"]),
    ("s.rossi@mcmc.example", "Sofia Rossi", "mcmc.example", ["researcher"]),
    ("j.novak@klt.example", "Jan Novák", "klt.example", ["researcher"]),
    ("n.tamm@tegl.example", "Nele Tamm", "tegl.example", ["researcher"]),
    ("c.garcia@ihi.example", "Carmen García", "ihi.example", ["researcher"]),
    ("safety@opensafety.example", "Samir Haddad", "opensafety.example", ["researcher"]),
    ("f.keller@helvetia-med.example", "Fabian Keller", "helvetia-med.example", ["researcher"]),
    # Reviewers and applicants of the demo calls (demo/access.py).
    ("i.schmidt@mlils.example", "Ingrid Schmidt", "mlils.example", ["reviewer"]),
    ("c.martin@alpenrose-eth.example", "Claire Martin", "alpenrose-eth.example", ["reviewer"]),
    ("d.fischer@usl-ca.example", "Daniel Fischer", "usl-ca.example", ["reviewer"]),
    ("j.hedlund@uppmark.example", "Johanna Hedlund", "uppmark.example", ["reviewer"]),
    ("t.horvat@losc.example", "Tina Horvat", "losc.example", ["reviewer"]),
    ("j.becker@mlils.example", "Jonas Becker", "mlils.example", ["researcher"]),
    ("v.korhonen@saimaa-uni.example", "Ville Korhonen", "saimaa-uni.example", ["researcher"]),
    ("h.makinen@fapd.example", "Hanna Mäkinen", "fapd.example", ["researcher"]),
    ("t.girard@univ-valmont.example", "Thomas Girard", "univ-valmont.example", ["researcher"]),
    ("m.bakker@dhut.example", "Maarten Bakker", "dhut.example", ["researcher"]),
    ("j.lefevre@lumiere-ia.example", "Julien Lefèvre", "lumiere-ia.example", ["researcher"]),
    ("l.fernandez@usa-sierra.example", "Lucía Fernández", "usa-sierra.example", ["researcher"]),
    ("g.conti@polarnova.example", "Giorgio Conti", "polarnova.example", ["researcher"]),
    ("z.lewandowska@wic.example", "Zofia Lewandowska", "wic.example", ["researcher"]),
    ("t.zupan@losc.example", "Tomaž Zupan", "losc.example", ["researcher"]),
    ("f.greco@ald.example", "Francesca Greco", "ald.example", ["researcher"]),
    ("d.visser@poldermodels.example", "Daan Visser", "poldermodels.example", ["researcher"]),
    ("k.saar@baltic-annot.example", "Kadri Saar", "baltic-annot.example", ["researcher"]),
    ("o.nilsson@nordicweather.example", "Oskar Nilsson", "nordicweather.example", ["researcher"]),
]

# Reviewers' declared expertise: keywords matched against proposals' keywords, and (optionally) the most
# proposals they take in one call.
REVIEWER_EXPERTISE = {
    "reviewer@saimaa-uni.example": (["language models", "multilingual", "low-resource languages", "speech",
                                     "benchmarks"], 8),
    "r.bianchi@polarnova.example": (["climate", "downscaling", "weather", "earth observation",
                                     "energy efficiency"], None),
    "h.jansen@dhut.example": (["vision", "medical imaging", "robotics", "privacy"], None),
    "k.wojcik@wic.example": (["language models", "retrieval", "code models", "energy efficiency",
                              "document understanding"], None),
    "a.dubois@univ-valmont.example": (["safety evaluation", "red teaming", "interpretability", "language models",
                                       "benchmarks"], None),
    "i.schmidt@mlils.example": (["language models", "interpretability", "safety evaluation", "multilingual"], 6),
    "c.martin@alpenrose-eth.example": (["medical imaging", "health", "privacy", "federated learning", "vision"],
                                       None),
    "d.fischer@usl-ca.example": (["speech", "low-resource languages", "document understanding", "public sector",
                                  "legal text"], None),
    "j.hedlund@uppmark.example": (["climate", "weather", "earth observation", "agriculture", "benchmarks"], None),
    "t.horvat@losc.example": (["public sector", "document understanding", "legal text", "retrieval", "privacy"],
                              None),
}

# Where people worked before: (email, institution domain, started on, days before the seeding it ended).
# Claire Martin left Valmont recently, so she may not review Valmont's proposals (the 12-month rule).
AFFILIATIONS = [
    ("c.martin@alpenrose-eth.example", "univ-valmont.example", "2019-09-01", 200),
]

# Other names an institution goes by: conflict-of-interest checks treat them as the same organisation.
INSTITUTION_ALIASES = [
    ("tu-rheinfeld.example", "TU Rheinfeld"),
    ("alpenrose-eth.example", "ETH Alpenrose"),
]

# One login per role, printed by `make run`.
DEMO_LOGINS = [
    ("operator", "operator@aicommons.example"),
    ("delegate (DE)", "delegate.de@bfds.example"),
    ("reviewer", "reviewer@saimaa-uni.example"),
    ("researcher", "researcher@tu-rheinfeld.example"),
    ("auditor", "auditor@aicommons.example"),
]
