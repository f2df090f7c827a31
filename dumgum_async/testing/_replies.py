"""Plausible, deterministic chat suggestions for the emulator's 200 answers.

The three suggestions are what the *persona* could send to the *user* next.  They draw on
the conversation:

1. a reaction to the most recent gift, sticker or poke among the last three messages from
   the user (in that order of preference), otherwise a warm opener; always addressed to
   the user by ``firstName`` (or ``nickname``);
2. a comeback on the last user message: it quotes the message when it is short, otherwise
   its longest meaningful word; a question when there is no text;
3. a remark on an interest both profiles share (``features.interests``), else on one of
   the user's interests, else on the user's city, else a question.

Choices among the templates are made from a BLAKE2b hash of the canonical request body,
so the same body always gets the same suggestions.  Templates are data: one
:class:`Phrasebook` per language, plus small spelling variants (``DE_CH`` writes "ss" for
"ß", British-style English spells "favourite").  Languages without a phrasebook use
English.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PHRASEBOOKS",
    "Phrasebook",
    "keyword",
    "phrasebook_for",
    "suggestions_for",
]


@dataclass(frozen=True, slots=True)
class Phrasebook:
    """The templates of one language.

    Placeholders: ``{name}`` the user's name, ``{gift}`` a gift name, ``{sticker}`` a
    sticker description, ``{word}`` a word of the last message, ``{quote}`` the whole last
    message, ``{interest}`` a localized interest, ``{city}`` the user's city.
    """

    opener: tuple[str, ...]  # {name}
    gift: tuple[str, ...]  # {name} {gift}
    poke: tuple[str, ...]  # {name}
    sticker: tuple[str, ...]  # {name} {sticker}
    echo_word: tuple[str, ...]  # {word}
    echo_quote: tuple[str, ...]  # {quote}
    shared_interest: tuple[str, ...]  # {interest}
    user_interest: tuple[str, ...]  # {interest}
    city: tuple[str, ...]  # {city}
    question: tuple[str, ...]
    interests: Mapping[str, str]  # features.interests value -> phrase fitting the templates
    nameless: str  # used when the profile has no usable name (validation off)


_INTEREST_KEYS = [
    "TAILORING",
    "BOOK_READING",
    "TRAVELING",
    "COOKING",
    "GARDENING",
    "PHOTOGRAPHY",
    "PAINTING",
    "MUSIC",
    "MOVIES",
    "CYCLING",
    "HIKING",
    "FITNESS",
    "GAMING",
    "DANCING",
    "YOGA",
    "SOFTWARE_DEVELOPMENT",
    "DIY_PROJECTS",
    "WRITING",
    "LANGUAGES",
    "ASTRONOMY",
    "VOLUNTEERING",
    "FISHING",
    "BIRD_WATCHING",
    "SPORTS",
    "EDUCATION",
    "ECONOMY",
    "FOOD_DRINKING",
    "CULINARY",
    "TECHNOLOGY",
    "MEDICAL",
    "NATURE",
    "CULTURE",
    "ART",
]


def _interests(*labels: str) -> Mapping[str, str]:
    if len(labels) != len(_INTEREST_KEYS):  # pragma: no cover - guards the tables below
        raise ValueError("one label per interest is required")
    return dict(zip(_INTEREST_KEYS, labels, strict=True))


_EN = Phrasebook(
    opener=(
        "Hey {name}! I was just thinking about you 😊",
        "{name}, you always know how to make me smile",
        "Haha {name}, you're too much 😄",
        "Oh {name}, talking with you is the best part of my day",
    ),
    gift=(
        "Thank you so much for the {gift}, {name}! That's so sweet of you 😍",
        "Wow, {gift}?! {name}, you're spoiling me 🥰",
        "Aww {name}, I love the {gift}! You made my day",
    ),
    poke=(
        "Did you just poke me, {name}? 😏 Careful, I poke back!",
        "Hey {name}, I felt that poke 😄 What's up?",
        "A poke, {name}? Someone wants my attention 😉",
    ),
    sticker=(
        'Haha {name}, that sticker is adorable 😂 "{sticker}" is so you',
        'Love the sticker, {name}! "{sticker}" is exactly my mood today',
        '{name}, where do you even find stickers like "{sticker}"? 😄',
    ),
    echo_word=(
        'Wait, "{word}"? Tell me more 😮',
        "Haha I love that you mentioned {word}. What made you think of it?",
        "Okay, {word} sounds interesting, I want the full story",
        "Ooh, {word}! You've got me curious now",
    ),
    echo_quote=(
        '"{quote}" haha, you made me smile. What happened next?',
        'You said "{quote}"... I\'m curious, tell me more!',
    ),
    shared_interest=(
        "Wait, you're into {interest} too? We should compare notes 😍",
        "I saw we both love {interest}! What got you into it?",
        "We both like {interest}, I knew we'd get along 😊",
    ),
    user_interest=(
        "I noticed you like {interest}. What do you love most about it?",
        "So you're into {interest}? You'll have to teach me a thing or two 😉",
    ),
    city=(
        "How's life in {city} these days?",
        "I've always wanted to visit {city}. What's your favorite spot there?",
    ),
    question=(
        "What are you up to tonight?",
        "So tell me, what made you smile today?",
        "What's the best thing that happened to you this week?",
        "If we met up tomorrow, where would you take me? 😉",
    ),
    interests=_interests(
        "sewing",
        "reading",
        "traveling",
        "cooking",
        "gardening",
        "photography",
        "painting",
        "music",
        "movies",
        "cycling",
        "hiking",
        "fitness",
        "gaming",
        "dancing",
        "yoga",
        "coding",
        "DIY projects",
        "writing",
        "languages",
        "astronomy",
        "volunteering",
        "fishing",
        "bird watching",
        "sports",
        "learning new things",
        "economics",
        "good food and drinks",
        "fine cuisine",
        "tech",
        "medicine",
        "nature",
        "culture",
        "art",
    ),
    nameless="you",
)

_FR = Phrasebook(
    opener=(
        "Coucou {name} ! Justement, je pensais à toi 😊",
        "{name}, tu sais toujours me faire sourire",
        "Haha {name}, t'es incroyable 😄",
        "Oh {name}, parler avec toi, c'est le meilleur moment de ma journée",
    ),
    gift=(
        "Merci beaucoup pour le cadeau « {gift} », {name} ! C'est trop gentil 😍",
        "Waouh, {gift} ?! {name}, tu me gâtes 🥰",
        "Oh {name}, j'adore : {gift} ! Tu as illuminé ma journée",
    ),
    poke=(
        "Tu viens de me faire un poke, {name} ? 😏 Attention, je riposte !",
        "Coucou {name}, j'ai bien reçu ton poke 😄 Quoi de neuf ?",
        "Un poke, {name} ? Quelqu'un veut attirer mon attention 😉",
    ),
    sticker=(
        "Haha {name}, ton sticker « {sticker} » est trop mignon 😂",
        "J'adore le sticker, {name} ! « {sticker} », c'est tout à fait mon humeur du jour",
        "{name}, où est-ce que tu trouves des stickers comme « {sticker} » ? 😄",
    ),
    echo_word=(
        "Attends, « {word} » ? Raconte-moi tout 😮",
        "Haha, j'adore que tu dises « {word} ». Qu'est-ce qui t'y a fait penser ?",
        "OK, « {word} », ça a l'air intéressant, je veux toute l'histoire",
        "Oh, « {word} » ! Là, tu m'intrigues",
    ),
    echo_quote=(
        "« {quote} » haha, tu m'as fait sourire. Et ensuite ?",
        "Tu as dit « {quote} »... Ça m'intrigue, dis-m'en plus !",
    ),
    shared_interest=(
        "Attends, toi aussi tu aimes {interest} ? Il faut qu'on en parle 😍",
        "J'ai vu qu'on a un point commun : {interest} ! Comment ça t'est venu ?",
        "{interest}, on a ça en commun ! Je savais qu'on allait bien s'entendre 😊",
    ),
    user_interest=(
        "J'ai vu que tu aimes {interest}. Qu'est-ce qui te plaît le plus là-dedans ?",
        "Alors comme ça tu aimes {interest} ? Il faudra que tu m'apprennes deux ou trois trucs 😉",
    ),
    city=(
        "Et la vie à {city}, ça se passe comment en ce moment ?",
        "J'ai toujours rêvé de visiter {city}. C'est quoi ton endroit préféré là-bas ?",
    ),
    question=(
        "Tu fais quoi ce soir ?",
        "Alors, qu'est-ce qui t'a fait sourire aujourd'hui ?",
        "C'est quoi le meilleur moment de ta semaine ?",
        "Si on se voyait demain, tu m'emmènerais où ? 😉",
    ),
    interests=_interests(
        "la couture",
        "la lecture",
        "voyager",
        "cuisiner",
        "le jardinage",
        "la photo",
        "la peinture",
        "la musique",
        "le cinéma",
        "le vélo",
        "la randonnée",
        "le fitness",
        "les jeux vidéo",
        "la danse",
        "le yoga",
        "coder",
        "le bricolage",
        "l'écriture",
        "les langues",
        "l'astronomie",
        "le bénévolat",
        "la pêche",
        "observer les oiseaux",
        "le sport",
        "apprendre",
        "l'économie",
        "la bonne bouffe",
        "la gastronomie",
        "la tech",
        "la médecine",
        "la nature",
        "la culture",
        "l'art",
    ),
    nameless="toi",
)

_DE = Phrasebook(
    opener=(
        "Hey {name}! Ich hab gerade an dich gedacht 😊",
        "{name}, du schaffst es immer, mich zum Lächeln zu bringen",
        "Haha {name}, du bist echt unglaublich 😄",
        "Ach {name}, mit dir zu schreiben ist das Schönste an meinem Tag",
    ),
    gift=(
        "Vielen Dank für das Geschenk „{gift}“, {name}! Das ist so lieb von dir 😍",
        "Wow, {gift}?! {name}, du verwöhnst mich ja 🥰",
        "Oh {name}, ich liebe es: {gift}! Du hast mir den Tag versüßt",
    ),
    poke=(
        "Hast du mich gerade angestupst, {name}? 😏 Vorsicht, ich stupse zurück!",
        "Hey {name}, dein Anstupser ist angekommen 😄 Was gibt's?",
        "Ein Anstupser, {name}? Da will wohl jemand meine Aufmerksamkeit 😉",
    ),
    sticker=(
        "Haha {name}, dein Sticker „{sticker}“ ist so süß 😂",
        "Toller Sticker, {name}! „{sticker}“ ist genau meine Stimmung heute",
        "{name}, wo findest du nur Sticker wie „{sticker}“? 😄",
    ),
    echo_word=(
        "Moment, „{word}“? Erzähl mir mehr 😮",
        "Haha, ich finde es toll, dass du „{word}“ sagst. Wie kommst du darauf?",
        "Okay, „{word}“ klingt spannend, ich will die ganze Geschichte hören",
        "Oh, „{word}“! Jetzt bin ich neugierig",
    ),
    echo_quote=(
        "„{quote}“ haha, da musste ich lächeln. Und wie ging's weiter?",
        "Du hast „{quote}“ geschrieben... Jetzt will ich mehr wissen!",
    ),
    shared_interest=(
        "Moment, du magst auch {interest}? Da müssen wir uns mal austauschen 😍",
        "Ich hab gesehen, dass wir beide {interest} lieben! Wie bist du dazu gekommen?",
        "{interest} verbindet uns, ich wusste doch, dass wir uns gut verstehen 😊",
    ),
    user_interest=(
        "Ich hab gesehen, dass du {interest} magst. Was gefällt dir daran am meisten?",
        "Du stehst also auf {interest}? Dann musst du mir mal was beibringen 😉",
    ),
    city=(
        "Und wie ist das Leben in {city} gerade so?",
        "Ich wollte schon immer mal nach {city}. Was ist dein Lieblingsort dort?",
    ),
    question=(
        "Was hast du heute Abend noch vor?",
        "Erzähl mal, was hat dich heute zum Lächeln gebracht?",
        "Was war das Schönste, das dir diese Woche passiert ist?",
        "Wenn wir uns morgen treffen würden, wohin würdest du mich mitnehmen? 😉",
    ),
    interests=_interests(
        "Nähen",
        "Lesen",
        "Reisen",
        "Kochen",
        "Gärtnern",
        "Fotografie",
        "Malen",
        "Musik",
        "Filme",
        "Radfahren",
        "Wandern",
        "Fitness",
        "Zocken",
        "Tanzen",
        "Yoga",
        "Programmieren",
        "Heimwerken",
        "Schreiben",
        "Sprachen",
        "Astronomie",
        "Ehrenamt",
        "Angeln",
        "Vogelbeobachtung",
        "Sport",
        "Neues lernen",
        "Wirtschaft",
        "gutes Essen und Trinken",
        "feine Küche",
        "Technik",
        "Medizin",
        "Natur",
        "Kultur",
        "Kunst",
    ),
    nameless="du",
)

_ES = Phrasebook(
    opener=(
        "¡Hola, {name}! Justo estaba pensando en ti 😊",
        "{name}, siempre sabes cómo sacarme una sonrisa",
        "Jaja {name}, eres increíble 😄",
        "Ay {name}, hablar contigo es lo mejor de mi día",
    ),
    gift=(
        "¡Muchísimas gracias por el regalo «{gift}», {name}! Qué detalle 😍",
        "Guau, ¿{gift}? {name}, me estás consintiendo 🥰",
        "Ay {name}, me encanta: {gift}. ¡Me alegraste el día!",
    ),
    poke=(
        "¿Me acabas de dar un toque, {name}? 😏 ¡Cuidado, que te lo devuelvo!",
        "Hola {name}, recibí tu toque 😄 ¿Qué tal?",
        "¿Un toque, {name}? Alguien quiere mi atención 😉",
    ),
    sticker=(
        "Jaja {name}, tu sticker «{sticker}» es adorable 😂",
        "¡Me encanta el sticker, {name}! «{sticker}» es justo mi humor de hoy",
        "{name}, ¿de dónde sacas stickers como «{sticker}»? 😄",
    ),
    echo_word=(
        "Espera, ¿«{word}»? Cuéntame más 😮",
        "Jaja, me encanta que digas «{word}». ¿Qué te hizo pensar en eso?",
        "Bueno, «{word}» suena interesante, quiero la historia completa",
        "¡Vaya, «{word}»! Ahora me tienes con curiosidad",
    ),
    echo_quote=(
        "«{quote}» jaja, me hiciste sonreír. ¿Y luego qué pasó?",
        "Dijiste «{quote}»... ¡Cuéntame más!",
    ),
    shared_interest=(
        "Espera, ¿a ti también te encanta {interest}? Tenemos que hablar de eso 😍",
        "¡Vi que a los dos nos gusta {interest}! ¿Cómo empezaste?",
        "{interest}, ¡algo que tenemos en común! Sabía que nos llevaríamos bien 😊",
    ),
    user_interest=(
        "Vi que te gusta {interest}. ¿Qué es lo que más te gusta de eso?",
        "¿Así que te gusta {interest}? Vas a tener que enseñarme un par de cosas 😉",
    ),
    city=(
        "¿Y qué tal la vida en {city} estos días?",
        "Siempre he querido visitar {city}. ¿Cuál es tu lugar favorito allí?",
    ),
    question=(
        "¿Qué planes tienes para esta noche?",
        "Cuéntame, ¿qué te hizo sonreír hoy?",
        "¿Qué es lo mejor que te ha pasado esta semana?",
        "Si nos viéramos mañana, ¿adónde me llevarías? 😉",
    ),
    interests=_interests(
        "la costura",
        "leer",
        "viajar",
        "cocinar",
        "la jardinería",
        "la fotografía",
        "pintar",
        "la música",
        "el cine",
        "el ciclismo",
        "el senderismo",
        "el fitness",
        "jugar a videojuegos",
        "bailar",
        "el yoga",
        "programar",
        "el bricolaje",
        "escribir",
        "aprender idiomas",
        "la astronomía",
        "el voluntariado",
        "la pesca",
        "observar aves",
        "el deporte",
        "aprender cosas nuevas",
        "la economía",
        "comer y beber bien",
        "la gastronomía",
        "la tecnología",
        "la medicina",
        "la naturaleza",
        "la cultura",
        "el arte",
    ),
    nameless="tú",
)

_IT = Phrasebook(
    opener=(
        "Ciao {name}! Stavo proprio pensando a te 😊",
        "{name}, riesci sempre a farmi sorridere",
        "Ahah {name}, sei incredibile 😄",
        "Oh {name}, parlare con te è la parte più bella della mia giornata",
    ),
    gift=(
        "Grazie mille per il regalo «{gift}», {name}! Che pensiero dolce 😍",
        "Wow, {gift}?! {name}, mi stai viziando 🥰",
        "Oh {name}, lo adoro: {gift}! Mi hai migliorato la giornata",
    ),
    poke=(
        "Mi hai appena fatto un poke, {name}? 😏 Occhio, che ricambio!",
        "Ehi {name}, ho ricevuto il tuo poke 😄 Che mi racconti?",
        "Un poke, {name}? Qualcuno vuole la mia attenzione 😉",
    ),
    sticker=(
        "Ahah {name}, il tuo sticker «{sticker}» è adorabile 😂",
        "Adoro lo sticker, {name}! «{sticker}» è proprio il mio umore di oggi",
        "{name}, dove li trovi degli sticker come «{sticker}»? 😄",
    ),
    echo_word=(
        "Aspetta, «{word}»? Raccontami di più 😮",
        "Ahah, adoro che tu abbia detto «{word}». Cosa te l'ha fatto venire in mente?",
        "Ok, «{word}» sembra interessante, voglio sapere tutta la storia",
        "Oh, «{word}»! Adesso mi hai messo curiosità",
    ),
    echo_quote=(
        "«{quote}» ahah, mi hai fatto sorridere. E poi cos'è successo?",
        "Hai scritto «{quote}»... Dimmi di più!",
    ),
    shared_interest=(
        "Aspetta, anche a te piace {interest}? Dobbiamo parlarne 😍",
        "Ho visto che a tutti e due piace {interest}! Come hai iniziato?",
        "{interest}, una cosa che abbiamo in comune! Sapevo che c'era intesa tra noi 😊",
    ),
    user_interest=(
        "Ho visto che ti piace {interest}. Cosa ti piace di più?",
        "Quindi ti piace {interest}? Dovrai insegnarmi un paio di cose 😉",
    ),
    city=(
        "E com'è la vita a {city} in questo periodo?",
        "Ho sempre voluto visitare {city}. Qual è il tuo posto preferito lì?",
    ),
    question=(
        "Che programmi hai per stasera?",
        "Dimmi, cosa ti ha fatto sorridere oggi?",
        "Qual è la cosa più bella che ti è successa questa settimana?",
        "Se ci vedessimo domani, dove mi porteresti? 😉",
    ),
    interests=_interests(
        "cucire",
        "leggere",
        "viaggiare",
        "cucinare",
        "il giardinaggio",
        "la fotografia",
        "dipingere",
        "la musica",
        "il cinema",
        "andare in bici",
        "fare trekking",
        "il fitness",
        "giocare ai videogiochi",
        "ballare",
        "lo yoga",
        "programmare",
        "il fai da te",
        "scrivere",
        "imparare le lingue",
        "l'astronomia",
        "il volontariato",
        "la pesca",
        "il birdwatching",
        "lo sport",
        "imparare cose nuove",
        "l'economia",
        "mangiare e bere bene",
        "la buona cucina",
        "la tecnologia",
        "la medicina",
        "la natura",
        "la cultura",
        "l'arte",
    ),
    nameless="tu",
)

_PT_PT = Phrasebook(
    opener=(
        "Olá {name}! Estava mesmo a pensar em ti 😊",
        "{name}, consegues sempre pôr-me a sorrir",
        "Haha {name}, és incrível 😄",
        "Ai {name}, falar contigo é a melhor parte do meu dia",
    ),
    gift=(
        "Adorei o presente «{gift}», {name}! Que simpatia 😍",
        "Uau, {gift}?! {name}, estás a mimar-me 🥰",
        "Ai {name}, adoro: {gift}! Alegraste-me o dia",
    ),
    poke=(
        "Acabaste de me dar um toque, {name}? 😏 Cuidado, que eu respondo!",
        "Olá {name}, recebi o teu toque 😄 Então, tudo bem?",
        "Um toque, {name}? Alguém quer a minha atenção 😉",
    ),
    sticker=(
        "Haha {name}, o teu sticker «{sticker}» é adorável 😂",
        "Adoro o sticker, {name}! «{sticker}» é mesmo o meu humor de hoje",
        "{name}, onde é que encontras stickers como «{sticker}»? 😄",
    ),
    echo_word=(
        "Espera, «{word}»? Conta-me mais 😮",
        "Haha, adoro que tenhas falado em «{word}». O que te fez pensar nisso?",
        "Ok, «{word}» parece interessante, quero a história toda",
        "Oh, «{word}»! Agora fiquei com curiosidade",
    ),
    echo_quote=(
        "«{quote}» haha, fizeste-me sorrir. E depois, o que aconteceu?",
        "Escreveste «{quote}»... Conta-me mais!",
    ),
    shared_interest=(
        "Espera, também gostas de {interest}? Temos de falar sobre isso 😍",
        "Vi que ambos gostamos de {interest}! Como é que começaste?",
        "{interest}, temos isso em comum! Eu sabia que nos íamos dar bem 😊",
    ),
    user_interest=(
        "Vi que gostas de {interest}. O que é que mais te agrada nisso?",
        "Então gostas de {interest}? Vais ter de me ensinar umas coisas 😉",
    ),
    city=(
        "Então, como está a vida em {city}?",
        "Sempre quis visitar {city}. Qual é o teu sítio preferido por lá?",
    ),
    question=(
        "O que vais fazer esta noite?",
        "Diz-me, o que te fez sorrir hoje?",
        "Qual foi a melhor coisa que te aconteceu esta semana?",
        "Se nos víssemos amanhã, para onde me levavas? 😉",
    ),
    interests=_interests(
        "costura",
        "ler",
        "viajar",
        "cozinhar",
        "jardinagem",
        "fotografia",
        "pintar",
        "música",
        "cinema",
        "andar de bicicleta",
        "caminhadas",
        "fitness",
        "videojogos",
        "dançar",
        "ioga",
        "programar",
        "bricolage",
        "escrever",
        "línguas",
        "astronomia",
        "voluntariado",
        "pesca",
        "observar aves",
        "desporto",
        "aprender coisas novas",
        "economia",
        "comer e beber bem",
        "gastronomia",
        "tecnologia",
        "medicina",
        "natureza",
        "cultura",
        "arte",
    ),
    nameless="tu",
)

_PT_BR = Phrasebook(
    opener=(
        "Oi {name}! Eu estava justamente pensando em você 😊",
        "{name}, você sempre consegue me fazer sorrir",
        "Haha {name}, você é demais 😄",
        "Ai {name}, conversar com você é a melhor parte do meu dia",
    ),
    gift=(
        "Amei o presente “{gift}”, {name}! Que fofura 😍",
        "Uau, {gift}?! {name}, você está me mimando 🥰",
        "Ai {name}, eu adorei: {gift}! Você fez o meu dia",
    ),
    poke=(
        "Você acabou de me cutucar, {name}? 😏 Cuidado que eu cutuco de volta!",
        "Oi {name}, recebi sua cutucada 😄 E aí, tudo bem?",
        "Uma cutucada, {name}? Alguém quer minha atenção 😉",
    ),
    sticker=(
        "Haha {name}, sua figurinha “{sticker}” é muito fofa 😂",
        "Amei a figurinha, {name}! “{sticker}” é exatamente o meu humor hoje",
        "{name}, onde você encontra figurinhas como “{sticker}”? 😄",
    ),
    echo_word=(
        "Espera, “{word}”? Me conta mais 😮",
        "Haha, adorei você falar “{word}”. O que te fez pensar nisso?",
        "Tá, “{word}” parece interessante, quero a história completa",
        "Nossa, “{word}”! Agora fiquei com curiosidade",
    ),
    echo_quote=(
        "“{quote}” haha, você me fez sorrir. E depois, o que aconteceu?",
        "Você disse “{quote}”... Me conta mais!",
    ),
    shared_interest=(
        "Espera, você também curte {interest}? A gente precisa conversar sobre isso 😍",
        "Vi que a gente curte {interest}! Como você começou?",
        "{interest}, a gente tem isso em comum! Eu sabia que a gente ia se dar bem 😊",
    ),
    user_interest=(
        "Vi que você curte {interest}. O que você mais gosta nisso?",
        "Então você curte {interest}? Vai ter que me ensinar umas coisas 😉",
    ),
    city=(
        "E aí, como está a vida em {city}?",
        "Sempre quis conhecer {city}. Qual é o seu lugar favorito por lá?",
    ),
    question=(
        "O que você vai fazer hoje à noite?",
        "Me conta, o que te fez sorrir hoje?",
        "Qual foi a melhor coisa que aconteceu com você esta semana?",
        "Se a gente se encontrasse amanhã, pra onde você me levaria? 😉",
    ),
    interests=_interests(
        "costura",
        "ler",
        "viajar",
        "cozinhar",
        "jardinagem",
        "fotografia",
        "pintar",
        "música",
        "cinema",
        "andar de bicicleta",
        "fazer trilha",
        "academia",
        "videogame",
        "dançar",
        "ioga",
        "programar",
        "projetos faça-você-mesmo",
        "escrever",
        "idiomas",
        "astronomia",
        "trabalho voluntário",
        "pescar",
        "observar pássaros",
        "esportes",
        "aprender coisas novas",
        "economia",
        "comer e beber bem",
        "gastronomia",
        "tecnologia",
        "medicina",
        "natureza",
        "cultura",
        "arte",
    ),
    nameless="você",
)

_NL = Phrasebook(
    opener=(
        "Hoi {name}! Ik zat net aan je te denken 😊",
        "{name}, jij weet me altijd aan het lachen te maken",
        "Haha {name}, je bent echt geweldig 😄",
        "Ach {name}, met jou praten is het leukste van mijn dag",
    ),
    gift=(
        "Heel erg bedankt voor het cadeau “{gift}”, {name}! Wat lief van je 😍",
        "Wauw, {gift}?! {name}, je verwent me 🥰",
        "Ah {name}, ik vind het geweldig: {gift}! Je hebt mijn dag goedgemaakt",
    ),
    poke=(
        "Gaf je me nou een por, {name}? 😏 Pas op, ik por terug!",
        "Hoi {name}, ik voelde je por 😄 Hoe gaat het?",
        "Een por, {name}? Iemand wil mijn aandacht 😉",
    ),
    sticker=(
        "Haha {name}, je sticker “{sticker}” is zo schattig 😂",
        "Leuke sticker, {name}! “{sticker}” is precies mijn stemming vandaag",
        "{name}, waar vind je stickers zoals “{sticker}”? 😄",
    ),
    echo_word=(
        "Wacht, “{word}”? Vertel me meer 😮",
        "Haha, ik vind het leuk dat je “{word}” zegt. Hoe kom je daarop?",
        "Oké, “{word}” klinkt interessant, ik wil het hele verhaal horen",
        "Oh, “{word}”! Nu ben ik nieuwsgierig",
    ),
    echo_quote=(
        "“{quote}” haha, daar moest ik om glimlachen. En toen?",
        "Je schreef “{quote}”... Vertel me meer!",
    ),
    shared_interest=(
        "Wacht, jij houdt ook van {interest}? Daar moeten we het eens over hebben 😍",
        "Ik zag dat we allebei van {interest} houden! Hoe ben je daarmee begonnen?",
        "{interest}, dat hebben we gemeen! Ik wist wel dat het zou klikken 😊",
    ),
    user_interest=(
        "Ik zag dat je van {interest} houdt. Wat vind je er het leukst aan?",
        "Dus jij houdt van {interest}? Dan moet je me eens wat leren 😉",
    ),
    city=(
        "En hoe is het leven in {city} tegenwoordig?",
        "Ik wilde altijd al eens naar {city}. Wat is jouw favoriete plek daar?",
    ),
    question=(
        "Wat ga je vanavond doen?",
        "Vertel eens, waar moest je vandaag om lachen?",
        "Wat is het leukste dat je deze week is overkomen?",
        "Als we morgen zouden afspreken, waar zou je me mee naartoe nemen? 😉",
    ),
    interests=_interests(
        "naaien",
        "lezen",
        "reizen",
        "koken",
        "tuinieren",
        "fotografie",
        "schilderen",
        "muziek",
        "films",
        "fietsen",
        "wandelen",
        "fitness",
        "gamen",
        "dansen",
        "yoga",
        "programmeren",
        "klussen",
        "schrijven",
        "talen",
        "sterrenkunde",
        "vrijwilligerswerk",
        "vissen",
        "vogels kijken",
        "sport",
        "nieuwe dingen leren",
        "economie",
        "lekker eten en drinken",
        "de fijne keuken",
        "technologie",
        "geneeskunde",
        "de natuur",
        "cultuur",
        "kunst",
    ),
    nameless="jij",
)

PHRASEBOOKS: Mapping[str, Phrasebook] = {
    "EN": _EN,
    "FR": _FR,
    "DE": _DE,
    "ES": _ES,
    "IT": _IT,
    "PT": _PT_PT,
    "PT_BR": _PT_BR,
    "NL": _NL,
}
"""Phrasebooks by language code; a code not listed uses the one of its prefix, then EN."""

# Spelling variants applied to the finished text, by exact language code.
_BRITISH = (("favorite", "favourite"), ("traveling", "travelling"))
_VARIANTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "DE_CH": (("ß", "ss"),),
    "EN_GB": _BRITISH,
    "EN_AU": _BRITISH,
    "EN_IE": _BRITISH,
    "EN_CA": _BRITISH,
}

# Words too common to be worth echoing (all languages together).
_STOPWORDS = frozenset(
    [
        "about",
        "also",
        "been",
        "because",
        "being",
        "could",
        "does",
        "doing",
        "from",
        "have",
        "just",
        "know",
        "like",
        "much",
        "only",
        "really",
        "should",
        "some",
        "still",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "think",
        "this",
        "very",
        "want",
        "well",
        "were",
        "what",
        "when",
        "where",
        "which",
        "will",
        "with",
        "would",
        "your",
        "yours",
        "alors",
        "aussi",
        "avec",
        "avoir",
        "bien",
        "cette",
        "comme",
        "dans",
        "encore",
        "était",
        "être",
        "fait",
        "faire",
        "juste",
        "mais",
        "nous",
        "parce",
        "pour",
        "quand",
        "sont",
        "tout",
        "très",
        "vous",
        "elle",
        "aber",
        "auch",
        "dass",
        "dich",
        "dein",
        "deine",
        "diese",
        "doch",
        "eine",
        "einen",
        "einer",
        "haben",
        "hast",
        "heute",
        "mich",
        "mein",
        "meine",
        "nicht",
        "noch",
        "oder",
        "schon",
        "sein",
        "sind",
        "über",
        "wann",
        "warum",
        "weil",
        "wenn",
        "wieder",
        "wirklich",
        "wurde",
        "algo",
        "bien",
        "como",
        "cuando",
        "donde",
        "eres",
        "esta",
        "este",
        "esto",
        "estoy",
        "hace",
        "para",
        "pero",
        "porque",
        "sido",
        "también",
        "tengo",
        "tiene",
        "todo",
        "anche",
        "ancora",
        "come",
        "cosa",
        "della",
        "delle",
        "degli",
        "fatto",
        "molto",
        "nella",
        "oggi",
        "però",
        "perché",
        "quando",
        "questa",
        "questo",
        "sono",
        "stato",
        "tutto",
        "ainda",
        "além",
        "isso",
        "isto",
        "mesmo",
        "muito",
        "onde",
        "sobre",
        "tenho",
        "você",
        "estou",
        "hoje",
        "allebei",
        "alles",
        "ben",
        "bent",
        "eigenlijk",
        "gewoon",
        "hebben",
        "heel",
        "jouw",
        "maar",
        "mijn",
        "niet",
        "omdat",
        "vandaag",
        "voor",
        "waar",
        "wanneer",
        "deze",
    ]
)
_WORD_RE = re.compile("[^\\W\\d_]+(?:['\u2019-][^\\W\\d_]+)*")
_SENTENCE_END_RE = re.compile(r"[.!?\u2026]+")
_QUOTE_MAX = 60
_EVENT_LOOKBACK = 3


def phrasebook_for(language: Any) -> Phrasebook:
    """Return the phrasebook for a request ``language`` (e.g. ``"FR_CA"`` uses ``"FR"``).

    Unknown or non-string languages get English.
    """
    if not isinstance(language, str):
        return _EN
    book = PHRASEBOOKS.get(language)
    if book is None:
        book = PHRASEBOOKS.get(language.split("_", 1)[0], _EN)
    return book


@functools.lru_cache(maxsize=4096)
def keyword(text: str) -> str | None:
    """Return the word of ``text`` a reply would pick up on, or None.

    Candidates have at least four letters and are not common words; the longest wins,
    a capitalized word inside a sentence (a name, a place) counting three letters more;
    the first one wins ties.
    """
    best: str | None = None
    best_score = 0
    for sentence in _SENTENCE_END_RE.split(text):
        for position, word in enumerate(_WORD_RE.findall(sentence)):
            if len(word) < 4 or word.lower() in _STOPWORDS:
                continue
            score = len(word) + 3 if position and word[0].isupper() else len(word)
            if score > best_score:
                best, best_score = word, score
    return best


def _str(mapping: Any, key: str) -> str | None:
    if isinstance(mapping, dict):
        value = mapping.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _interest_list(profile: Any) -> list[str]:
    features = profile.get("features") if isinstance(profile, dict) else None
    interests = features.get("interests") if isinstance(features, dict) else None
    if not isinstance(interests, list):
        return []
    return [i for i in interests if isinstance(i, str)]


def _last_event(messages: Sequence[Any]) -> tuple[str, str] | None:
    """The most recent gift, sticker or poke from the user among the last messages."""
    for message in reversed(messages[-_EVENT_LOOKBACK:]):
        if not isinstance(message, dict) or message.get("sender") != "USER":
            continue
        gifts = message.get("gifts")
        if isinstance(gifts, list):
            for gift in gifts:
                name = _str(gift, "name")
                if name is not None:
                    return "gift", name
        sticker = _str(message, "sticker")
        if sticker is not None:
            return "sticker", sticker
        if message.get("poke") is True:
            return "poke", ""
    return None


def _last_text(messages: Sequence[Any]) -> str | None:
    """The text of the last user message that has one (else of the last message with text)."""
    fallback: str | None = None
    for message in reversed(messages):
        text = _str(message, "text")
        if text is None:
            continue
        if message.get("sender") == "USER":
            return text
        if fallback is None:
            fallback = text
    return fallback


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def suggestions_for(body: Mapping[str, Any], canonical: bytes) -> list[str]:
    """Write three suggestions the persona could send next.

    Args:
        body: The parsed request (validated or not: odd shapes are tolerated).
        canonical: A canonical serialization of ``body`` (sorted keys); its BLAKE2b hash
            drives every choice, so equal requests get equal suggestions.

    Returns:
        Three distinct strings in the request's language.
    """
    digest = hashlib.blake2b(canonical, digest_size=16).digest()

    def pick(slot: int, options: Sequence[str]) -> str:
        return options[digest[slot] % len(options)]

    language = body.get("language")
    book = phrasebook_for(language)
    user = body.get("userProfile")
    persona = body.get("personaProfile")
    raw_messages = body.get("messages")
    messages: Sequence[Any] = raw_messages if isinstance(raw_messages, list) else ()
    name = _str(user, "firstName") or _str(user, "nickname") or book.nameless

    # 1. React to a gift / sticker / poke, or open warmly; always uses the name.
    event = _last_event(messages)
    if event is None:
        first = pick(0, book.opener).format(name=name)
    elif event[0] == "gift":
        first = pick(0, book.gift).format(name=name, gift=event[1])
    elif event[0] == "sticker":
        first = pick(0, book.sticker).format(name=name, sticker=event[1])
    else:
        first = pick(0, book.poke).format(name=name)

    # 2. Pick up on the last message.
    questions = list(book.question)
    text = _last_text(messages)
    word = keyword(text) if text is not None else None
    if text is not None and len(text) <= _QUOTE_MAX and "\n" not in text and digest[1] & 1:
        second = pick(2, book.echo_quote).format(quote=text)
    elif word is not None:
        second = pick(2, book.echo_word).format(word=word)
    else:
        second = questions.pop(digest[2] % len(questions))

    # 3. A shared interest, the user's interest, the user's city, or a question.
    user_interests = _interest_list(user)
    persona_interests = set(_interest_list(persona))
    shared = [i for i in user_interests if i in persona_interests]
    city = _str(user, "city")
    if shared or user_interests:
        chosen = pick(4, shared or user_interests)
        label = book.interests.get(chosen, chosen.lower().replace("_", " "))
        third = pick(3, book.shared_interest if shared else book.user_interest)
        third = third.format(interest=label)
    elif city is not None:
        third = pick(3, book.city).format(city=city)
    else:
        third = questions[digest[3] % len(questions)]

    out = [_capitalize(s) for s in (first, second, third)]
    variants = _VARIANTS.get(language) if isinstance(language, str) else None
    if variants:
        for old, new in variants:
            out = [s.replace(old, new) for s in out]
    return out
