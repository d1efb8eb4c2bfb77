"""System phrases: everything the respondent reads or hears that the survey's author did
not write. Keys are stable (`system.<key>` in the audio catalogue); every phrase exists in
English, French, Arabic and Swahili, and a language without a translation falls back to
English rather than showing nothing."""

from __future__ import annotations

from collections.abc import Mapping

FALLBACK_LANGUAGE = "en"

# How each language names itself on the language menu.
NATIVE_NAMES: Mapping[str, str] = {
    "en": "English",
    "fr": "Français",
    "ar": "العربية",
    "sw": "Kiswahili",
    "pt": "Português",
    "es": "Español",
    "am": "አማርኛ",
    "so": "Soomaali",
    "ha": "Hausa",
    "yo": "Yorùbá",
    "rw": "Kinyarwanda",
}

PHRASES: Mapping[str, Mapping[str, str]] = {
    "choose_language": {
        "en": "Choose your language",
        "fr": "Choisissez votre langue",
        "ar": "اختر لغتك",
        "sw": "Chagua lugha yako",
    },
    "resume_offer": {
        "en": "You have an unfinished survey.",
        "fr": "Vous avez un questionnaire inachevé.",
        "ar": "لديك استبيان غير مكتمل.",
        "sw": "Una utafiti ambao haujakamilika.",
    },
    "continue": {"en": "Continue", "fr": "Continuer", "ar": "متابعة", "sw": "Endelea"},
    "start_again": {
        "en": "Start again",
        "fr": "Recommencer",
        "ar": "البدء من جديد",
        "sw": "Anza upya",
    },
    "more": {"en": "More", "fr": "Suite", "ar": "المزيد", "sw": "Zaidi"},
    # `select_one LIST or_other`: the choice added to the list, and the question after it
    "other": {"en": "Other", "fr": "Autre", "ar": "أخرى", "sw": "Nyingine"},
    "specify_other": {
        "en": "Please specify.",
        "fr": "Veuillez préciser.",
        "ar": "يرجى التحديد.",
        "sw": "Tafadhali fafanua.",
    },
    # After each pass of a repeat without a repeat_count; its choices are yes and no.
    "add_another": {
        "en": "Add another?",
        "fr": "En ajouter un autre ?",
        "ar": "إضافة آخر؟",
        "sw": "Ongeza mwingine?",
    },
    "yes": {"en": "Yes", "fr": "Oui", "ar": "نعم", "sw": "Ndiyo"},
    "ok": {"en": "OK", "fr": "D'accord", "ar": "موافق", "sw": "Sawa"},
    "no": {"en": "No", "fr": "Non", "ar": "لا", "sw": "Hapana"},
    "back": {"en": "Back", "fr": "Retour", "ar": "رجوع", "sw": "Rudi"},
    "invalid_choice": {
        "en": "Invalid choice. Enter one of the numbers shown.",
        "fr": "Choix invalide. Entrez un des numéros affichés.",
        "ar": "اختيار غير صالح. أدخل أحد الأرقام المعروضة.",
        "sw": "Chaguo si sahihi. Weka moja ya namba zilizoonyeshwa.",
    },
    "invalid_choices": {
        "en": "Invalid choice. Enter numbers from the list, separated by spaces.",
        "fr": "Choix invalide. Entrez des numéros de la liste, séparés par des espaces.",
        "ar": "اختيار غير صالح. أدخل أرقاماً من القائمة تفصل بينها مسافات.",
        "sw": "Chaguo si sahihi. Weka namba za orodha, zikitenganishwa na nafasi.",
    },
    "invalid_rank": {
        "en": "Enter all {count} numbers in order, each once, most important first.",
        "fr": "Entrez les {count} numéros dans l'ordre, chacun une fois, le plus important "
        "d'abord.",
        "ar": "أدخل الأرقام الـ {count} كلها بالترتيب، كل رقم مرة واحدة، الأهم أولاً.",
        "sw": "Weka namba zote {count} kwa mpangilio, kila moja mara moja, muhimu zaidi kwanza.",
    },
    "invalid_integer": {
        "en": "Please enter a whole number.",
        "fr": "Veuillez entrer un nombre entier.",
        "ar": "الرجاء إدخال عدد صحيح.",
        "sw": "Tafadhali weka namba kamili.",
    },
    "invalid_decimal": {
        "en": "Please enter a number.",
        "fr": "Veuillez entrer un nombre.",
        "ar": "الرجاء إدخال رقم.",
        "sw": "Tafadhali weka namba.",
    },
    "invalid_date": {
        "en": "Please enter a real date as DDMMYYYY.",
        "fr": "Veuillez entrer une date valide au format JJMMAAAA.",
        "ar": "الرجاء إدخال تاريخ صحيح بصيغة يوم شهر سنة DDMMYYYY.",
        "sw": "Tafadhali weka tarehe sahihi kama SSMMMMMM (DDMMYYYY).",
    },
    "invalid_time": {
        "en": "Please enter a time as 4 digits, e.g. 1430 for 2:30 pm.",
        "fr": "Veuillez entrer une heure en 4 chiffres, ex. 1430 pour 14h30.",
        "ar": "الرجاء إدخال الوقت بأربعة أرقام، مثلاً 1430 للساعة 2:30 مساءً.",
        "sw": "Tafadhali weka saa kwa tarakimu 4, mfano 1430 kwa saa 8:30 mchana.",
    },
    "invalid_datetime": {
        "en": "Please enter the date then the time, e.g. 15062026 1430.",
        "fr": "Veuillez entrer la date puis l'heure, ex. 15062026 1430.",
        "ar": "الرجاء إدخال التاريخ ثم الوقت، مثلاً 15062026 1430.",
        "sw": "Tafadhali weka tarehe kisha saa, mfano 15062026 1430.",
    },
    "text_too_long": {
        "en": "Answer too long. Keep it under {limit} characters.",
        "fr": "Réponse trop longue. Moins de {limit} caractères.",
        "ar": "الإجابة طويلة جداً. أقل من {limit} حرفاً.",
        "sw": "Jibu ni refu mno. Lisizidi herufi {limit}.",
    },
    "required": {
        "en": "This question needs an answer.",
        "fr": "Cette question demande une réponse.",
        "ar": "هذا السؤال يحتاج إلى إجابة.",
        "sw": "Swali hili linahitaji jibu.",
    },
    "constraint": {
        "en": "That answer is not allowed.",
        "fr": "Cette réponse n'est pas acceptée.",
        "ar": "هذه الإجابة غير مقبولة.",
        "sw": "Jibu hilo halikubaliki.",
    },
    "no_input": {
        "en": "We did not receive an answer.",
        "fr": "Nous n'avons pas reçu de réponse.",
        "ar": "لم نتلق إجابة.",
        "sw": "Hatukupokea jibu.",
    },
    "hint_integer": {
        "en": "Enter a number",
        "fr": "Entrez un nombre",
        "ar": "أدخل رقماً",
        "sw": "Weka namba",
    },
    "hint_decimal": {
        "en": "Enter a number, e.g. 2.5",
        "fr": "Entrez un nombre, ex. 2.5",
        "ar": "أدخل رقماً، مثلاً 2.5",
        "sw": "Weka namba, mfano 2.5",
    },
    "hint_date": {
        "en": "Date as DDMMYYYY",
        "fr": "Date au format JJMMAAAA",
        "ar": "التاريخ بصيغة DDMMYYYY",
        "sw": "Tarehe kama DDMMYYYY",
    },
    "hint_time": {
        "en": "Time as HHMM, e.g. 1430",
        "fr": "Heure au format HHMM, ex. 1430",
        "ar": "الوقت بصيغة HHMM، مثلاً 1430",
        "sw": "Saa kama HHMM, mfano 1430",
    },
    "hint_datetime": {
        "en": "Date and time as DDMMYYYY HHMM",
        "fr": "Date et heure au format JJMMAAAA HHMM",
        "ar": "التاريخ والوقت بصيغة DDMMYYYY HHMM",
        "sw": "Tarehe na saa kama DDMMYYYY HHMM",
    },
    "hint_choices": {
        "en": "Several: e.g. 1 3",
        "fr": "Plusieurs : ex. 1 3",
        "ar": "عدة أرقام: مثلاً 1 3",
        "sw": "Zaidi ya moja: mfano 1 3",
    },
    "hint_rank": {
        "en": "Order all, most important first: e.g. 312",
        "fr": "Classez tout, le plus important d'abord : ex. 312",
        "ar": "رتب الكل، الأهم أولاً: مثلاً 312",
        "sw": "Panga zote, muhimu zaidi kwanza: mfano 312",
    },
    "hint_text": {
        "en": "Type your answer",
        "fr": "Tapez votre réponse",
        "ar": "اكتب إجابتك",
        "sw": "Andika jibu lako",
    },
    "current_answer": {
        "en": "Now: {value}",
        "fr": "Actuel : {value}",
        "ar": "الحالي: {value}",
        "sw": "Sasa: {value}",
    },
    # An earlier answer given by voice, where a label pipes it or "Now: ..." shows it:
    # the recording's file reference is for storage only.
    "recorded_answer": {
        "en": "(your recorded answer)",
        "fr": "(votre réponse enregistrée)",
        "ar": "(إجابتك المسجلة)",
        "sw": "(jibu lako lililorekodiwa)",
    },
    "too_many_attempts": {
        "en": "We did not get a valid answer. Dial again to continue where you stopped.",
        "fr": "Pas de réponse valide. Rappelez pour reprendre où vous vous êtes arrêté.",
        "ar": "لم نتلق إجابة صحيحة. اتصل مجدداً لتكمل من حيث توقفت.",
        "sw": "Hatukupata jibu sahihi. Piga tena uendelee ulipoishia.",
    },
    "thank_you": {
        "en": "Thank you for your answers!",
        "fr": "Merci pour vos réponses !",
        "ar": "شكراً على إجاباتك!",
        "sw": "Asante kwa majibu yako!",
    },
    "refused": {
        "en": "Thank you for your time. Goodbye.",
        "fr": "Merci pour votre temps. Au revoir.",
        "ar": "شكراً على وقتك. مع السلامة.",
        "sw": "Asante kwa muda wako. Kwaheri.",
    },
    "already_completed": {
        "en": "You have already completed this survey. Thank you!",
        "fr": "Vous avez déjà répondu à ce questionnaire. Merci !",
        "ar": "لقد أكملت هذا الاستبيان من قبل. شكراً!",
        "sw": "Umeshakamilisha utafiti huu. Asante!",
    },
    "not_on_roster": {
        "en": "Sorry, this survey is only for registered graduates.",
        "fr": "Désolé, ce questionnaire est réservé aux diplômés inscrits.",
        "ar": "عذراً، هذا الاستبيان مخصص للخريجين المسجلين فقط.",
        "sw": "Samahani, utafiti huu ni kwa wahitimu waliosajiliwa tu.",
    },
    "survey_closed": {
        "en": "Sorry, this survey is closed. Thank you for your interest.",
        "fr": "Désolé, ce questionnaire est clos. Merci de votre intérêt.",
        "ar": "عذراً، هذا الاستبيان مغلق. شكراً لاهتمامك.",
        "sw": "Samahani, utafiti huu umefungwa. Asante kwa kujali.",
    },
    "no_survey": {
        "en": "Sorry, this code is not in use.",
        "fr": "Désolé, ce code n'est pas utilisé.",
        "ar": "عذراً، هذا الرمز غير مستخدم.",
        "sw": "Samahani, namba hii haitumiki.",
    },
    "failed": {
        "en": "Sorry, the survey cannot continue. Please try again later.",
        "fr": "Désolé, le questionnaire ne peut pas continuer. Réessayez plus tard.",
        "ar": "عذراً، لا يمكن متابعة الاستبيان. حاول لاحقاً.",
        "sw": "Samahani, utafiti hauwezi kuendelea. Jaribu tena baadaye.",
    },
    "system_error": {
        "en": "Sorry, something went wrong. Please dial again.",
        "fr": "Désolé, une erreur est survenue. Veuillez recomposer.",
        "ar": "عذراً، حدث خطأ. الرجاء الاتصال مرة أخرى.",
        "sw": "Samahani, kuna hitilafu. Tafadhali piga tena.",
    },
    # Said before the first question when a graduate who said no, or whose survey
    # broke, dials again: a new response begins (README, "How a session behaves").
    "declined_before": {
        "en": "Last time you chose not to take part. You are welcome to take part now.",
        "fr": "La dernière fois, vous n'avez pas souhaité participer. "
        "Vous pouvez participer maintenant.",
        "ar": "في المرة السابقة اخترت عدم المشاركة. يمكنك المشاركة الآن.",
        "sw": "Mara iliyopita ulichagua kutoshiriki. Unakaribishwa kushiriki sasa.",
    },
    "failed_before": {
        "en": "Sorry, the survey had a problem last time. It starts again.",
        "fr": "Désolé, le questionnaire a eu un problème la dernière fois. Il recommence.",
        "ar": "عذراً، حدثت مشكلة في الاستبيان في المرة السابقة. سيبدأ من جديد.",
        "sw": "Samahani, utafiti ulikuwa na tatizo mara iliyopita. Unaanza upya.",
    },
    "answers_kept": {
        "en": "Your answers are saved. Dial again to continue.",
        "fr": "Vos réponses sont enregistrées. Recomposez pour continuer.",
        "ar": "تم حفظ إجاباتك. اتصل مرة أخرى للمتابعة.",
        "sw": "Majibu yako yamehifadhiwa. Piga tena kuendelea.",
    },
    # Spoken only (IVR): "For <choice>, press <digit>", digits, keys, recording.
    "for": {"en": "For", "fr": "Pour", "ar": "لاختيار", "sw": "Kwa"},
    "press": {"en": "press", "fr": "appuyez sur", "ar": "اضغط", "sw": "bonyeza"},
    "then_hash": {
        "en": "then press the hash key.",
        "fr": "puis appuyez sur la touche dièse.",
        "ar": "ثم اضغط على مفتاح المربع.",
        "sw": "kisha bonyeza alama ya reli.",
    },
    "record_after_tone": {
        "en": "Please speak after the tone, then press the hash key.",
        "fr": "Parlez après le bip, puis appuyez sur la touche dièse.",
        "ar": "تحدث بعد سماع الصفارة، ثم اضغط على مفتاح المربع.",
        "sw": "Tafadhali ongea baada ya mlio, kisha bonyeza alama ya reli.",
    },
    # Keys and numbers said by the IVR (`ivr/render.py`): "To go back, press <key>",
    # a number read back digit by digit ("minus", "point"), a date entered as digits.
    "key_star": {"en": "star", "fr": "étoile", "ar": "النجمة", "sw": "nyota"},
    "key_hash": {"en": "hash", "fr": "dièse", "ar": "المربع", "sw": "reli"},
    "point": {"en": "point", "fr": "virgule", "ar": "فاصلة", "sw": "nukta"},
    "minus": {"en": "minus", "fr": "moins", "ar": "سالب", "sw": "hasi"},
    "go_back": {
        "en": "To go back, press",
        "fr": "Pour revenir en arrière, appuyez sur",
        "ar": "للرجوع، اضغط",
        "sw": "Kurudi nyuma, bonyeza",
    },
    "repeat": {
        "en": "To hear this again, press",
        "fr": "Pour réécouter, appuyez sur",
        "ar": "للاستماع مجدداً، اضغط",
        "sw": "Kusikiliza tena, bonyeza",
    },
    "decimal_point": {
        "en": "For the decimal point, press",
        "fr": "Pour la virgule, appuyez sur",
        "ar": "للفاصلة العشرية، اضغط",
        "sw": "Kwa nukta ya desimali, bonyeza",
    },
    "date_digits": {
        "en": "Enter the date as eight digits: two for the day, two for the month, "
        "four for the year,",
        "fr": "Entrez la date en huit chiffres : deux pour le jour, deux pour le mois, "
        "quatre pour l'année,",
        "ar": "أدخل التاريخ بثمانية أرقام: اثنان لليوم، واثنان للشهر، وأربعة للسنة،",
        "sw": "Weka tarehe kwa tarakimu nane: mbili za siku, mbili za mwezi, nne za mwaka,",
    },
    "time_digits": {
        "en": "Enter the time as four digits, two for the hour and two for the minutes, "
        "on the 24-hour clock,",
        "fr": "Entrez l'heure en quatre chiffres, deux pour l'heure et deux pour les minutes, "
        "sur 24 heures,",
        "ar": "أدخل الوقت بأربعة أرقام، اثنان للساعة واثنان للدقائق، بنظام 24 ساعة،",
        "sw": "Weka saa kwa tarakimu nne, mbili za saa na mbili za dakika, kwa mfumo wa saa 24,",
    },
    "then_time_digits": {
        "en": "then the time as four digits, on the 24-hour clock,",
        "fr": "puis l'heure en quatre chiffres, sur 24 heures,",
        "ar": "ثم الوقت بأربعة أرقام بنظام 24 ساعة،",
        "sw": "kisha saa kwa tarakimu nne, kwa mfumo wa saa 24,",
    },
    "rank_order": {
        "en": "Choose them all in order, the most important first.",
        "fr": "Choisissez-les tous dans l'ordre, le plus important d'abord.",
        "ar": "اخترها كلها بالترتيب، الأهم أولاً.",
        "sw": "Zichague zote kwa mpangilio, muhimu zaidi kwanza.",
    },
    "one_at_a_time": {
        "en": "Choose one at a time: press its number, then the hash key. "
        "When you have chosen all, press the hash key alone.",
        "fr": "Choisissez un à la fois : appuyez sur son numéro, puis sur la touche dièse. "
        "Quand vous avez fini, appuyez seulement sur la touche dièse.",
        "ar": "اختر واحداً في كل مرة: اضغط رقمه ثم مفتاح المربع. "
        "عند الانتهاء، اضغط مفتاح المربع وحده.",
        "sw": "Chagua moja moja: bonyeza namba yake, kisha alama ya reli. "
        "Ukimaliza, bonyeza alama ya reli peke yake.",
    },
    # After a spoken answer is recorded: "To keep this answer, press 1. To record it
    # again, press 2." (the digits are said from `system.digit.*`).
    "keep_answer": {
        "en": "To keep this answer, press",
        "fr": "Pour garder cette réponse, appuyez sur",
        "ar": "للاحتفاظ بهذه الإجابة، اضغط",
        "sw": "Kuhifadhi jibu hili, bonyeza",
    },
    "record_again": {
        "en": "To record it again, press",
        "fr": "Pour l'enregistrer à nouveau, appuyez sur",
        "ar": "لتسجيلها مرة أخرى، اضغط",
        "sw": "Kurekodi tena, bonyeza",
    },
    "no_caller_id": {
        "en": "We cannot see your phone number. Please call again without hiding it.",
        "fr": "Nous ne voyons pas votre numéro. Rappelez sans le masquer, s'il vous plaît.",
        "ar": "لا يظهر رقم هاتفك. يرجى الاتصال مجدداً دون إخفائه.",
        "sw": "Hatuoni namba yako ya simu. Tafadhali piga tena bila kuificha.",
    },
    "any_key": {
        "en": "Press any key to continue.",
        "fr": "Appuyez sur une touche pour continuer.",
        "ar": "اضغط أي مفتاح للمتابعة.",
        "sw": "Bonyeza kitufe chochote kuendelea.",
    },
}

# Digits spoken one by one (keys to press, and numbers read back).
DIGITS: Mapping[str, tuple[str, ...]] = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "ar": ("صفر", "واحد", "اثنان", "ثلاثة", "أربعة", "خمسة", "ستة", "سبعة", "ثمانية", "تسعة"),
    "sw": ("sifuri", "moja", "mbili", "tatu", "nne", "tano", "sita", "saba", "nane", "tisa"),
}


def phrase(key: str, language: str | None, **values: object) -> str:
    """The phrase in `language`, or in English when it has no translation there."""
    texts = PHRASES[key]
    text = texts.get(language or FALLBACK_LANGUAGE) or texts[FALLBACK_LANGUAGE]
    return text.format(**values) if values else text


def digit_word(digit: int, language: str | None) -> str:
    """A digit (0 to 9) as a word in `language`, or in English without a translation."""
    words = DIGITS.get(language or FALLBACK_LANGUAGE) or DIGITS[FALLBACK_LANGUAGE]
    return words[digit]


def native_name(code: str, fallback: str) -> str:
    """A language as its speakers write it, for the language menu."""
    return NATIVE_NAMES.get(code, fallback)
