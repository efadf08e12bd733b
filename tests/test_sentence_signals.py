"""What a sentence offers as an answer: quotable or not, the kind of answer a question expects."""

from __future__ import annotations

import pytest

from retrieval.ask.question_signals import misspelt_as, same_stem
from retrieval.ask.sentence_signals import counted_words, expected_kind, holds_kind, is_quotable, novelty


@pytest.mark.parametrize("sentence", [
    "How much do you have to pay a Skilled Worker?",
    "10. How long does the fast-track procedure for skilled workers take and",
    "246 Hall, S. & IOM (2017) Setting standards for an integrated approach to reintegration, commissioned by IOM.",
    "(72) C-200/02, Zhu and Chen, ECLI:EU:C:2004:639, paragraph 20 and case law cited.",
    "FIGURE 7. LEVEL OF SATISFACTION WITH REINTEGRATION SUPPORT Source: monitoring survey.",
    "See the guidance at https://www.gov.uk/government/publications/skilled-worker for details.",
    "ETHIOPIA SOMALIA SUDAN 0.68 0.67 0.65 AVERAGE SCORE PER PROGRAMME COUNTRY.",
    # a grading table read as a sentence (HoA final evaluation): a 1-5 scale and cells ticked with X
    "Effectiveness Overall score on IOM\u2019s performance: 3.8 ELEMENT 1 2 3 4 5 Performance towards Result 1.1    X Performance towards Result 1.2.",
    "Performance towards Result 1.3   X Performance towards SO 1    X Performance towards SO 2    X Performance towards Result 3.1.",
    # a regulation's signature block run into the note below it (Regulation (EU) 2024/1347)
    ("For the European Parliament The President R. METSOLA For the Council The President H. LAHBIB (21) Council Directive "
    "2004/83/EC of 29 April 2004 on minimum standards for the qualification and status of third country nationals or "
    "stateless persons as refugees or as persons who otherwise need international protection and the content of the "
    "protection granted (OJ L 304, 30.9.2004, p. 12)."),
    # cross-references send the reader elsewhere (the UNHCR booklet's note glued to the Protocol's preamble)
    "See A /6311/Rev.1/Add.1, par t tw o, par a. 38. considering that the Economic and Social Council, in its resolution 1186 (XLI) took note of the draft Protocol.",
    "See section SK6 for further information on salary points options.",
    "(See Finding 3 and 7)",
])
def test_never_quoted(sentence):
    assert not is_quotable(sentence)


@pytest.mark.parametrize("sentence", [
    "On conclusion of the agreement, the Foreigners Authority charges a €411 fee for processing the application.",
    "No Contracting State shall expel or return a refugee to the frontiers of territories where his life would be threatened.",
    "The meeting will discuss the following questions:",
    "Articles 3, 4 and 5 apply to the refugees referred to in Article 1 of this Convention.",
    "Type X and type Y permits are issued for 1 or 2 years.",
    "The President of the Commission shall present the report to the European Parliament and to the Council.",
    "Seeking asylum is a right, and the Seasonal Worker route is separate (see section SK3).",
])
def test_quotable(sentence):
    assert is_quotable(sentence)


def test_the_kind_of_answer_a_question_asks_for():
    assert expected_kind("How much does the fast-track procedure cost?") == "amount"
    assert expected_kind("How long does the employer have to report a change?") == "duration"
    assert expected_kind("When did the Regulation enter into force?") == "date"
    assert expected_kind("How many experts were interviewed?") == "count"
    assert expected_kind("What does non-refoulement prohibit?") is None
    # a word between "what (is the)" and what is asked for
    assert expected_kind("What is the maximum fee a Member State may charge?") == "amount"
    assert expected_kind("What is the maximum number of certificates a sponsor can request?") == "count"
    assert expected_kind("What response rate did the survey achieve?") == "share"
    assert expected_kind("What share of returnees were reintegrated?") == "share"


def test_a_share_is_answered_by_a_percentage_or_a_proportion_not_by_any_number():
    assert holds_kind("Only 53% of the respondents would be considered reintegrated.", "share")
    assert holds_kind("The majority of participants reported a good level of reintegration.", "share")
    assert not holds_kind("3. Diversification of integration measures: tailor-made policies.", "share")
    assert holds_kind("In total, 216 people were consulted in three missions.", "count")


def test_a_count_is_a_number_that_counts_not_a_year_a_reference_or_a_list_number():
    assert holds_kind("The project interviewed 24 experts across 19 countries.", "count")
    assert holds_kind("More than 2,300 returnees were assisted in 2022.", "count")
    assert holds_kind("Each mentor follows twenty beneficiaries.", "count")
    not_counts = [
        "3. Diversification of integration measures: tailor-made policies.",
        "As UNHCR prepares to commemorate, in 2011, the 60th anniversary of the 1951 Convention, more States may accede.",
        "(24) In accordance with Commission Regulation (EC) No 1560/2003, transfers may be carried out.",
        "Background SK13.1. On 4 August 2020, the Government launched a visa.",
        "For further information, see section L6 of Part 1: Apply for a licence.",
        "The rules of Article 18(1)(c) apply.",
    ]
    assert not any(holds_kind(s, "count") for s in not_counts)


def test_a_budget_or_a_total_value_is_asked_as_an_amount():
    assert expected_kind("What was the final budget of the Joint Initiative?") == "amount"
    assert expected_kind("What was the total value of the Mobile Money payments made in Sudan?") == "amount"
    assert expected_kind("What is the added value of the approach?") is None  # not money
    assert holds_kind("The final budget was EUR 64.7 million.", "amount")


def test_a_count_answers_how_many_only_when_it_counts_what_the_question_counts():
    assert counted_words("How many Health and Care visas were granted to care workers in 2024?") == {"visas"}
    assert counted_words("What is the maximum number of Defined Certificates of Sponsorship a sponsor can request?") == {"certificates"}
    assert counted_words("How many people in total did the study consult?") == {"people"}
    assert counted_words("How many experts were interviewed, and in how many countries?") == {"experts", "countries"}
    assert counted_words("What is the deadline?") == set()
    question = "How many experts did the survey interview?"
    assert holds_kind("The project interviewed 24 migration and integration experts across 19 countries.", "count", question)
    assert not holds_kind("The project covered 19 countries and 28 Member States.", "count", question)
    assert holds_kind("The number of experts interviewed was 24.", "count", question)  # the counted word before the number
    people = "How many returnees does each mentor follow?"
    assert holds_kind("Each mentor follows 24 beneficiaries.", "count", people)  # a word for people counts people
    assert not holds_kind("Each mentor works in 3 regions.", "count", people)
    assert holds_kind("All applicants must score 70 \u2018points\u2019 to be eligible.", "count", "How many points must an applicant score?")
    assert not holds_kind("Psychiatrists are scarce: 2 hospitals in Khartoum take referrals.", "count", "How many psychiatrists are there in Sudan?")


def test_a_sentence_holds_the_kind_asked_for_only_if_the_question_does_not_already_say_it():
    fee = "The Foreigners Authority charges a €411 fee for processing the application."
    assert holds_kind(fee, "amount")
    assert not holds_kind("The brochure answers the key questions about the procedure.", "amount")
    assert holds_kind("The decision must be taken within two months of receipt.", "duration")
    assert not holds_kind("After 3 years the refugee is exempt.", "duration", "What happens after 3 years?")
    assert holds_kind("anything", None)


def test_a_cap_answers_how_much():
    """"How much may a State charge for a travel document?" is answered by the rule that caps it."""
    asked = "How much may a State charge for issuing a Convention travel document to a refugee?"
    assert holds_kind("Fees charged for the issue of travel documents shall not exceed the lowest scale of charges for national passports.", "amount", asked)
    assert holds_kind("The charge is no higher than that paid by nationals.", "amount", asked)
    assert not holds_kind("The Contracting States shall issue travel documents to refugees lawfully staying in their territory.", "amount", asked)


def test_novelty_and_country_forms():
    assert novelty({"principl", "non", "refoul", "respect"}, {"non", "refoul", "principl", "prohibit"}) == pytest.approx(0.25)
    assert novelty(set(), {"x"}) == 0.0
    assert same_stem("ethiopia", "ethiopian") and same_stem("sudanes", "sudan")
    assert not same_stem("sudan", "sud") and not same_stem("ukrain", "uk")
    assert same_stem("mexico", "mexican") and same_stem("franc", "french") and same_stem("netherland", "dutch")
    assert not same_stem("austria", "australia") and not same_stem("franc", "spanish")
    assert not same_stem("niger", "nigeria") and not same_stem("nigerien", "nigerian") and same_stem("nigeria", "nigerian")


def test_a_passage_of_questions_under_a_question_heading_is_a_questionnaire():
    from retrieval.ask.sentence_signals import is_questionnaire

    matrix = ["1.6. To what extent were needs properly identified and monitored?", "- Desk research (programme reports)",
              "- Interviews with IOM staff", "2.1. To what extent did the programme address the priorities of other stakeholders?"]
    assert is_questionnaire("Evaluation > 1.6. To what extent were needs properly identified", matrix)
    answers = ["What role does the Foreigners Authority play?", "The Foreigners Authority acts as the central contact.",
               "It checks the documents.", "It grants pre-approval for a visa if all requirements are met."]
    assert not is_questionnaire("3. How do employers benefit from the fast-track procedure?", answers)
    criteria = ["(1) duration For how long is the benefit being granted?", "Outlook: is it likely that the EU citizen will cease to use the safety net soon?"]
    assert not is_questionnaire("5 Right of residence of more than 3 months", criteria)  # the heading tells
    assert not is_questionnaire("What is asked?", [])


def test_a_passage_of_notes_is_a_reference_list():
    from retrieval.ask.sentence_signals import answers_nothing, is_note, is_reference_list, may_answer_nothing

    notes = ["(44) C-673/16, Coman, ECLI:EU:C:2018:385, paragraph 45.", "(45) OJ L 158, 30.4.2004, p. 77.",
             "246 Hall, S. & IOM (2017) Mental health and psychosocial support.", "https://www.make-it-in-germany.com/en/hotline"]
    assert all(is_note(n) for n in notes)
    assert is_reference_list(notes) and answers_nothing("Notes", notes)
    assert may_answer_nothing("\n\n".join(notes))
    assert not may_answer_nothing("The Court held that a spouse is a spouse. It said so in 2018.")
    assert may_answer_nothing('The returnees were interviewed." 24 Interview with IOM staff.')  # a note after a quotation's end
    body = ["The Court held that the term 'spouse' includes a spouse of the same sex.",
            "It has since been supplemented by regional regimes,(3) as well as by human rights law. http://www.unhcr.org/refworld"]
    assert not any(is_note(s) for s in body)  # a link glued to the end of a sentence does not make it a note
    assert not is_reference_list(body + notes[:1]) and not answers_nothing("Spouses", body)
    assert not is_reference_list([])


def test_a_list_of_the_works_cited_answers_nothing():
    from retrieval.ask.sentence_signals import answers_nothing, lists_cited_works

    entries = ["Lietaert, I. (2019). The Usefulness of Reintegration Support.", "Mental health care management in Canada: Job Description Analyses."]
    assert lists_cited_works("References") and lists_cited_works("7. Bibliography") and lists_cited_works("Report > Works cited")
    assert answers_nothing("References", entries)
    assert not lists_cited_works("10 Conclusion") and not lists_cited_works("References to the Court")
    assert not answers_nothing("10 Conclusion", entries[1:])


def test_a_line_of_a_run_of_numbered_notes_is_a_note_not_a_list_item_or_a_sentence():
    from retrieval.ask.sentence_signals import in_note_run

    page = ("the JI-HoA was cost-effective.\n\n333 Multiple FGDs with returnees and stakeholders in Ethiopia.\n\n"
            "334 Mid Term Review of EU-IOM Joint Initiative for Migrant Protection.\n\n"
            "335 JI-HoA Interim Narrative Report #4 to the European Union.\n\nAs will be demonstrated in the next subsection, 12 returnees")
    assert all(in_note_run(page, page.index(n)) for n in ("333", "334", "335"))
    assert not in_note_run(page, page.index("As will"))
    assert not in_note_run(page, page.index("12 returnees"))  # not at a line's start
    listed = "1. Enhance capacity.\n2. Support partners.\n3. Monitor results."
    assert not any(in_note_run(listed, listed.index(n)) for n in ("1.", "2.", "3."))
    alone = "Some text.\n\n7 As per the project's description, some limited activities were also carried out in Kenya.\n\nMore text."
    assert not in_note_run(alone, alone.index("7 As"))  # a single note: `is_note` decides


def test_which_countries_is_answered_by_naming_countries_the_question_does_not():
    assert expected_kind("Which States still keep the geographical limitation?") == "countries"
    assert expected_kind("Beyond its four core countries, in which other Khartoum Process countries did it work?") == "countries"
    assert expected_kind("According to the guidance, for which Member States is the Visa Code not applicable?") == "countries"
    assert expected_kind("Which Member State is responsible for the application?") is None  # a rule answers it, not a name
    # and so for one country that must or should do something: Dublin III's rule answers, naming none
    assert expected_kind("Which country must examine an asylum claim if a family member is a refugee in another State?") is None
    assert expected_kind("A Syrian man has claimed asylum in Austria. Which country should deal with his claim?") is None
    assert expected_kind("Which country takes responsibilty?") is None  # as misspelt in a blind question
    assert expected_kind("Which country is cited as granting migrants full voting rights?") == "countries"
    assert expected_kind("Which countries must apply the Regulation?") == "countries"
    assert expected_kind("What must Member States ensure?") is None
    assert expected_kind("Can someone be detained while it is decided which EU country handles the claim?") is None
    assert expected_kind("How many countries signed?") == "count"
    assert holds_kind("The Visa Code is not applicable to Ireland, Bulgaria, Cyprus and Romania.", "countries")
    assert holds_kind("Research was conducted in The Gambia and Côte d'Ivoire.", "countries")
    assert not holds_kind("Several Member States have concluded such arrangements.", "countries")
    assert not holds_kind("Ethiopia hosts many returnees.", "countries", "Which countries besides Ethiopia host returnees?")
    assert not holds_kind("It works with 26 African countries in the Sahel and Lake Chad.", "countries")  # a region
    assert holds_kind("Chad and Niger border Lake Chad.", "countries")


def test_which_organisation_or_who_did_is_answered_by_a_name_the_question_does_not_have():
    assert expected_kind("Which regional organisations have recommended accession to the Convention?") == "names"
    assert expected_kind("Which intergovernmental body in East Africa did the priorities line up with?") == "names"
    assert expected_kind("With which regulatory bodies must a sponsor be registered?") == "names"
    assert expected_kind("Who devised the Nansen passport and when?") == "names"
    assert expected_kind("Who sits on the Local Monitoring Committees?") is None  # roles answer it, not names
    assert expected_kind("Who is responsible for examining the claim?") is None
    assert expected_kind("Which services could countries of origin offer?") is None
    question = "Which regional organisations have recommended accession to the 1951 Convention?"
    assert holds_kind("Accession has also been recommended by the Council of Europe and the African Union.", "names", question)
    assert not holds_kind("This Convention shall be open for accession by the States referred to in Article 39.", "names", question)
    assert not holds_kind("Accession to the Convention has been recommended by many regional organisations.", "names", question)
    assert not holds_kind("The Convention was adopted in 1951.", "names", question)  # the question's own name


def test_a_term_one_edit_from_a_known_one_reads_as_its_misspelling():
    assert misspelt_as("convnet", "convent") and misspelt_as("asylym", "asylum")  # two letters swapped, one changed
    assert not misspelt_as("qualificaiton", "qualif")  # more than two edits
    assert misspelt_as("benfciari", "beneficiari")  # two edits in a term of eight letters or more
    assert not misspelt_as("austria", "australia")  # two edits in a seven-letter term: another name
    assert not misspelt_as("obock", "block") and not misspelt_as("gaza", "gazi")  # too far, too short

