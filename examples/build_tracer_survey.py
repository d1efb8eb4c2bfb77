"""Build examples/graduate_tracer.xlsx: a graduate tracer survey as an XLSForm.

    .venv/bin/python examples/build_tracer_survey.py [OUTPUT.xlsx]

The form is written here as Python data so that the four languages of every
question sit side by side and can be reviewed together; the spreadsheet is
generated from it. Edit this file, not the xlsx, then run the script again.

Labels are short on purpose: they are shown on feature-phone USSD screens
(182 characters, only 80 when the text needs UCS-2, as Arabic does) and read
aloud on voice calls. No closing note: the engine thanks the respondent, and
a `no` to the question named `consent` ends the survey.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

OUTPUT = Path(__file__).with_name("graduate_tracer.xlsx")

# (code, how the column headers name the language)
LANGUAGES = (
    ("en", "English (en)"),
    ("fr", "Français (fr)"),
    ("ar", "العربية (ar)"),
    ("sw", "Kiswahili (sw)"),
)
RIGHT_TO_LEFT = {"ar"}

SETTINGS = {
    "form_title": "Graduate tracer survey",
    "form_id": "graduate_tracer",
    "version": "2026.2",
    "default_language": "English (en)",
}


@dataclass(frozen=True)
class T:
    """One text in the four languages of the form."""

    en: str
    fr: str
    ar: str
    sw: str

    def get(self, code: str) -> str:
        return getattr(self, code)


YES = T(en="Yes", fr="Oui", ar="نعم", sw="Ndiyo")
NO = T(en="No", fr="Non", ar="لا", sw="Hapana")

# Relevance of the two branches after `employed`.
WORKING = "${employed} = 'wage' or ${employed} = 'self'"
NOT_WORKING = "selected(${employed}, 'not_working')"


# --------------------------------------------------------------------------
# choices sheet: list_name -> [(name, label)]
# --------------------------------------------------------------------------

CHOICES: dict[str, list[tuple[str, T]]] = {
    "yes_no": [("yes", YES), ("no", NO)],
    "employment": [
        (
            "wage",
            T(
                en="Yes, for an employer",
                fr="Oui, pour un employeur",
                ar="نعم، أعمل لدى صاحب عمل",
                sw="Ndiyo, nimeajiriwa",
            ),
        ),
        (
            "self",
            T(
                en="Yes, self-employed",
                fr="Oui, à mon compte",
                ar="نعم، أعمل لحسابي الخاص",
                sw="Ndiyo, nimejiajiri",
            ),
        ),
        ("not_working", NO),
    ],
    "yes_some_no": [
        ("yes", YES),
        ("some", T(en="Partly", fr="En partie", ar="جزئياً", sw="Kwa kiasi")),
        ("no", NO),
    ],
    "formality": [
        (
            "formal",
            T(en="Yes (formal)", fr="Oui (formel)", ar="نعم (عمل رسمي)", sw="Ndiyo (rasmi)"),
        ),
        (
            "informal",
            T(
                en="No (informal)",
                fr="Non (informel)",
                ar="لا (عمل غير رسمي)",
                sw="Hapana (si rasmi)",
            ),
        ),
    ],
    # Currency-neutral on purpose: one form serves Kenya, Tanzania, Senegal and
    # Lebanon. A single-country deployment would use amounts in local currency.
    "income": [
        ("very_low", T(en="Very low", fr="Très bas", ar="منخفض جداً", sw="Cha chini sana")),
        ("low", T(en="Low", fr="Bas", ar="منخفض", sw="Cha chini")),
        ("average", T(en="Average", fr="Moyen", ar="متوسط", sw="Cha wastani")),
        (
            "above_average",
            T(
                en="Above average",
                fr="Au-dessus de la moyenne",
                ar="فوق المتوسط",
                sw="Juu ya wastani",
            ),
        ),
        ("high", T(en="High", fr="Élevé", ar="مرتفع", sw="Cha juu")),
        (
            "prefer_not",
            T(
                en="Prefer not to say",
                fr="Je préfère ne pas répondre",
                ar="أفضّل عدم الإجابة",
                sw="Sipendi kusema",
            ),
        ),
    ],
    "barrier": [
        (
            "no_jobs",
            T(
                en="No jobs in my area",
                fr="Pas d'emploi dans ma zone",
                ar="لا توجد وظائف في منطقتي",
                sw="Hakuna ajira eneo langu",
            ),
        ),
        (
            "no_experience",
            T(
                en="Lack of experience",
                fr="Manque d'expérience",
                ar="نقص الخبرة",
                sw="Ukosefu wa uzoefu",
            ),
        ),
        (
            "no_capital",
            T(
                en="No tools or capital",
                fr="Ni outils ni capital",
                ar="نقص الأدوات أو رأس المال",
                sw="Sina vifaa wala mtaji",
            ),
        ),
        (
            "family",
            T(
                en="Family duties",
                fr="Charges familiales",
                ar="التزامات عائلية",
                sw="Majukumu ya familia",
            ),
        ),
        (
            "studying",
            T(
                en="I am studying",
                fr="Études en cours",
                ar="أتابع دراستي",
                sw="Ninaendelea na masomo",
            ),
        ),
        ("other", T(en="Other", fr="Autre", ar="سبب آخر", sw="Nyingine")),
    ],
    # Worded in the first person so that the Arabic is the same for women and men.
    "agree5": [
        (
            "strongly_disagree",
            T(
                en="Strongly disagree",
                fr="Pas du tout d'accord",
                ar="لا أوافق إطلاقاً",
                sw="Sikubali kabisa",
            ),
        ),
        ("disagree", T(en="Disagree", fr="Pas d'accord", ar="لا أوافق", sw="Sikubali")),
        (
            "neutral",
            T(
                en="Neither agree nor disagree",
                fr="Ni d'accord ni pas d'accord",
                ar="لا أوافق ولا أعارض",
                sw="Sikubali wala sikatai",
            ),
        ),
        ("agree", T(en="Agree", fr="D'accord", ar="أوافق", sw="Nakubali")),
        (
            "strongly_agree",
            T(
                en="Strongly agree",
                fr="Tout à fait d'accord",
                ar="أوافق تماماً",
                sw="Nakubali kabisa",
            ),
        ),
    ],
    # Names are the numbers themselves, so waves can be compared as scores.
    "scale5": [
        ("1", T(en="Very low", fr="Très faible", ar="منخفض جداً", sw="Chini sana")),
        ("2", T(en="Low", fr="Faible", ar="منخفض", sw="Chini")),
        ("3", T(en="Average", fr="Moyen", ar="متوسط", sw="Wastani")),
        ("4", T(en="High", fr="Élevé", ar="مرتفع", sw="Juu")),
        ("5", T(en="Very high", fr="Très élevé", ar="مرتفع جداً", sw="Juu sana")),
    ],
}


# --------------------------------------------------------------------------
# survey sheet, in the order the respondent meets the questions
# --------------------------------------------------------------------------


def question(
    type_: str,
    name: str,
    label: T,
    *,
    required: bool = True,
    relevant: str = "",
    hint: T | None = None,
    constraint: str = "",
    constraint_message: T | None = None,
    required_message: T | None = None,
) -> dict:
    return {
        "type": type_,
        "name": name,
        "label": label,
        "hint": hint,
        "required": "yes" if required else "",
        "required_message": required_message,
        "relevant": relevant,
        "constraint": constraint,
        "constraint_message": constraint_message,
    }


def rate_yourself(name: str, label: T) -> dict:
    """A soft-skill self-rating, compared across waves ("distance travelled")."""
    return question("select_one scale5", name, label)


SURVEY = [
    question(
        "select_one yes_no",
        "consent",
        T(
            en="Your training centre is following up on its graduates. "
            "Do you agree to answer a few questions (about 5 minutes)?",
            fr="Votre centre de formation suit ses anciens apprenants. "
            "Acceptez-vous de répondre à quelques questions (environ 5 minutes) ?",
            ar="يتابع مركز تدريبك أوضاع خريجيه. هل توافق على الإجابة عن بضعة أسئلة (نحو 5 دقائق)؟",
            sw="Chuo chako cha mafunzo kinafuatilia wahitimu wake. "
            "Je, unakubali kujibu maswali machache (kama dakika 5)?",
        ),
        hint=T(
            en="Your answers are confidential.",
            fr="Vos réponses restent confidentielles.",
            ar="إجاباتك سرية.",
            sw="Majibu yako ni siri.",
        ),
    ),
    # --- work -------------------------------------------------------------
    question(
        "select_one employment",
        "employed",
        T(
            en="Are you currently working, for pay or profit?",
            fr="Avez-vous actuellement un travail payé ou une activité à votre compte ?",
            ar="هل لديك عمل حالياً، بأجر أو لحسابك الخاص؟",
            sw="Je, kwa sasa una kazi inayokuingizia kipato?",
        ),
    ),
    # Working graduates (wage or self-employed).
    question(
        "integer",
        "months_to_job",
        T(
            en="How many months after the training did you find this work?",
            fr="Combien de mois après la formation avez-vous trouvé ce travail ?",
            ar="بعد كم شهر من انتهاء التدريب وجدت هذا العمل؟",
            sw="Ulipata kazi hii miezi mingapi baada ya mafunzo?",
        ),
        relevant=WORKING,
        hint=T(
            en="Enter a number of months (0 if less than one)",
            fr="Entrez un nombre de mois (0 si moins d'un mois)",
            ar="عدد الأشهر (0 إذا كانت المدة أقل من شهر)",
            sw="Weka idadi ya miezi (0 kama ni chini ya mwezi mmoja)",
        ),
        constraint=". >= 0 and . <= 60",
        constraint_message=T(
            en="Enter a number from 0 to 60.",
            fr="Entrez un nombre de 0 à 60.",
            ar="يجب أن يكون الرقم من 0 إلى 60.",
            sw="Weka namba kuanzia 0 hadi 60.",
        ),
        required_message=T(
            en="Please enter the number of months.",
            fr="Veuillez indiquer le nombre de mois.",
            ar="الرجاء إدخال عدد الأشهر.",
            sw="Tafadhali weka idadi ya miezi.",
        ),
    ),
    question(
        "select_one yes_some_no",
        "job_related",
        T(
            en="Is this work related to your training?",
            fr="Ce travail est-il lié à votre formation ?",
            ar="هل لعملك هذا علاقة بالتدريب الذي تلقيته؟",
            sw="Je, kazi hii inahusiana na mafunzo yako?",
        ),
        relevant=WORKING,
    ),
    question(
        "select_one formality",
        "job_formality",
        T(
            en="Do you have a written contract, or is your business registered?",
            fr="Avez-vous un contrat écrit, ou votre entreprise est-elle enregistrée ?",
            ar="هل لديك عقد عمل مكتوب أو مشروع مسجّل رسمياً؟",
            sw="Je, una mkataba wa kazi wa maandishi, au biashara yako imesajiliwa?",
        ),
        relevant=WORKING,
    ),
    question(
        "select_one income",
        "income_band",
        T(
            en="Compared with others in your area, your monthly income from this work is:",
            fr="Par rapport aux gens de votre région, votre revenu mensuel de ce travail est :",
            ar="مقارنةً بالآخرين في منطقتك، دخلك الشهري من هذا العمل:",
            sw="Ukilinganisha na watu wa eneo lako, "
            "kipato chako cha mwezi kutokana na kazi hii ni:",
        ),
        relevant=WORKING,
    ),
    # Graduates who are not working.
    question(
        "select_one yes_no",
        "looking_for_work",
        T(
            en="In the last 4 weeks, did you look for work?",
            fr="Au cours des 4 dernières semaines, avez-vous cherché du travail ?",
            ar="هل بحثت عن عمل خلال الأسابيع الأربعة الماضية؟",
            sw="Katika wiki 4 zilizopita, je, ulitafuta kazi?",
        ),
        relevant=NOT_WORKING,
    ),
    question(
        "select_one barrier",
        "main_barrier",
        T(
            en="What is the main reason you are not working?",
            fr="Pourquoi ne travaillez-vous pas ? (raison principale)",
            ar="ما السبب الرئيسي لعدم عملك حالياً؟",
            sw="Kwa nini hufanyi kazi kwa sasa? (sababu kuu)",
        ),
        relevant=NOT_WORKING,
    ),
    # --- everyone -----------------------------------------------------------
    question(
        "select_one yes_no",
        "further_education",
        T(
            en="Since the training, have you started further study or another course?",
            fr="Depuis la formation, avez-vous repris des études ou suivi une autre formation ?",
            ar="هل بدأت دراسة أو تدريباً آخر منذ انتهاء التدريب؟",
            sw="Tangu ulipomaliza mafunzo, je, umeanza masomo au mafunzo mengine?",
        ),
    ),
    question(
        "select_one agree5",
        "training_relevant",
        T(
            en="The training was useful for my work or life. Do you agree?",
            fr="La formation m'a été utile pour mon travail ou ma vie. Votre avis ?",
            ar="كان التدريب مفيداً لعملي أو حياتي. ما مدى موافقتك؟",
            sw="Mafunzo yalikuwa na manufaa kwa kazi au maisha yangu. Je, unakubali?",
        ),
    ),
    question(
        "select_one agree5",
        "satisfied",
        T(
            en="I am satisfied with the training. Do you agree?",
            fr="La formation me satisfait. Votre avis ?",
            ar="أشعر بالرضا عن التدريب. ما مدى موافقتك؟",
            sw="Nimeridhika na mafunzo. Je, unakubali?",
        ),
    ),
    # --- soft skills ("distance travelled") ---------------------------------
    question(
        "note",
        "skills_intro",
        T(
            en="Now rate yourself from 1 (very low) to 5 (very high).",
            fr="Maintenant, donnez-vous une note de 1 (très faible) à 5 (très élevé).",
            ar="الآن تقييم ذاتي لمهاراتك، من 1 (منخفض جداً) إلى 5 (مرتفع جداً).",
            sw="Sasa jipime mwenyewe kuanzia 1 (chini sana) hadi 5 (juu sana).",
        ),
        required=False,
    ),
    rate_yourself(
        "skill_confidence",
        T(
            en="How do you rate your self-confidence?",
            fr="Comment évaluez-vous votre confiance en vous ?",
            ar="ما تقييمك لثقتك بنفسك؟",
            sw="Kujiamini kwako kuko katika kiwango gani?",
        ),
    ),
    rate_yourself(
        "skill_communication",
        T(
            en="How do you rate your communication skills?",
            fr="Comment évaluez-vous votre capacité à communiquer ?",
            ar="ما تقييمك لمهاراتك في التواصل؟",
            sw="Ujuzi wako wa mawasiliano uko katika kiwango gani?",
        ),
    ),
    rate_yourself(
        "skill_teamwork",
        T(
            en="How do you rate your teamwork (working with others)?",
            fr="Comment évaluez-vous votre capacité à travailler en équipe ?",
            ar="ما تقييمك لقدرتك على العمل ضمن فريق؟",
            sw="Uwezo wako wa kufanya kazi na wengine uko katika kiwango gani?",
        ),
    ),
    rate_yourself(
        "skill_problem_solving",
        T(
            en="How do you rate your problem-solving skills?",
            fr="Comment évaluez-vous votre capacité à résoudre des problèmes ?",
            ar="ما تقييمك لقدرتك على حل المشكلات؟",
            sw="Uwezo wako wa kutatua matatizo uko katika kiwango gani?",
        ),
    ),
    # --- open question, optional ---------------------------------------------
    question(
        "text",
        "suggestion",
        T(
            en="What one thing would improve the training?",
            fr="Que faudrait-il améliorer en priorité dans la formation ?",
            ar="ما اقتراحك الأهم لتحسين التدريب؟",
            sw="Ni jambo gani moja lingeboresha mafunzo?",
        ),
        required=False,
    ),
]


# --------------------------------------------------------------------------
# writing the workbook
# --------------------------------------------------------------------------

TRANSLATED = ("label", "hint", "required_message", "constraint_message")
SURVEY_COLUMNS = (
    "type",
    "name",
    "label",
    "hint",
    "required",
    "required_message",
    "relevant",
    "constraint",
    "constraint_message",
)


def expand(columns: tuple[str, ...], rows: list[dict]) -> list[tuple[str, str, str | None]]:
    """Headers as (header, field, language code): one column per language for the
    translated fields, and only for fields that some row uses."""
    headers = []
    for field in columns:
        if not any(row.get(field) for row in rows):
            continue
        if field in TRANSLATED:
            headers += [(f"{field}::{lang}", field, code) for code, lang in LANGUAGES]
        else:
            headers.append((field, field, None))
    return headers


def write_sheet(wb: Workbook, title: str, columns: tuple[str, ...], rows: list[dict]) -> None:
    ws = wb.create_sheet(title)
    headers = expand(columns, rows)
    ws.append([header for header, _, _ in headers])
    for row in rows:
        values = []
        for _, field, code in headers:
            value = row.get(field)
            values.append(value.get(code) if isinstance(value, T) else value or None)
        ws.append(values)

    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for index, (_, field, code) in enumerate(headers, start=1):
        letter = ws.cell(row=1, column=index).column_letter
        wide = field in TRANSLATED or field in ("relevant", "constraint")
        ws.column_dimensions[letter].width = 45 if wide else 22
        align = Alignment(wrap_text=True, vertical="top")
        if code in RIGHT_TO_LEFT:
            align = Alignment(wrap_text=True, vertical="top", horizontal="right", readingOrder=2)
        for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.alignment = align


def build(path: Path) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    write_sheet(wb, "survey", SURVEY_COLUMNS, SURVEY)
    choices = [
        {"list_name": list_name, "name": name, "label": label}
        for list_name, items in CHOICES.items()
        for name, label in items
    ]
    write_sheet(wb, "choices", ("list_name", "name", "label"), choices)
    settings = wb.create_sheet("settings")
    settings.append(list(SETTINGS))
    settings.append(list(SETTINGS.values()))
    for cell in settings[1]:
        cell.font = Font(bold=True)
    wb.save(path)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    build(out)
    print(f"wrote {out}")
