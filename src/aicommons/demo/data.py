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
]

# One login per role, printed by `make run`.
DEMO_LOGINS = [
    ("operator", "operator@aicommons.example"),
    ("delegate (DE)", "delegate.de@bfds.example"),
    ("reviewer", "reviewer@saimaa-uni.example"),
    ("researcher", "researcher@tu-rheinfeld.example"),
    ("auditor", "auditor@aicommons.example"),
]
