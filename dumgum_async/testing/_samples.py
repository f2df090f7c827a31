"""Varied, valid sample conversations in the API's JSON shape, for demos and load tests.

Every conversation is built from its own random generator seeded with ``(seed, index)``:
conversation ``i`` is the same whatever ``n`` is, so a longer run extends a shorter one
and a failing item can be regenerated on its own.  Nothing reads the clock, so the
output depends on the arguments only.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dumgum_async import Gender, GiftTier, Interest, Language, MusicGenre, Personality, Sport

__all__ = ["DEFAULT_LANGUAGES", "sample_requests"]

#: The languages :func:`sample_requests` writes conversations in by default.
DEFAULT_LANGUAGES: tuple[str, ...] = ("EN", "FR", "DE", "ES", "IT", "PT_BR", "NL")

MAX_MESSAGES = 12


@dataclass(frozen=True, slots=True)
class _Phrases:
    """What people say in one language.  ``{name}`` is the recipient's name."""

    women: tuple[str, ...]
    men: tuple[str, ...]
    places: tuple[tuple[str, str, str, str], ...]  # country code, city, time zone, postal code
    greetings: tuple[str, ...]
    lines: tuple[str, ...]
    stickers: tuple[str, ...]
    gifts: tuple[tuple[str, str], ...]  # name, tier
    jobs: tuple[tuple[str, str], ...]  # as a woman, as a man
    descriptions: tuple[str, ...]


_EN = _Phrases(
    women=("Emma", "Olivia", "Grace", "Chloe", "Megan", "Hannah", "Zoe", "Abigail"),
    men=("James", "Liam", "Noah", "Ethan", "Oliver", "Jack", "Ryan", "Samuel"),
    places=(
        ("US", "Boston", "America/New_York", "02108"),
        ("US", "Denver", "America/Denver", "80202"),
        ("GB", "Manchester", "Europe/London", "M1 1AE"),
        ("CA", "Toronto", "America/Toronto", "M5H 2N2"),
    ),
    greetings=(
        "Hi {name}! How's your day going?",
        "Hey {name} 😊",
        "Hello! I loved your profile.",
        "Good morning {name}!",
        "Hey there, nice smile on your photo!",
    ),
    lines=(
        "I just got back from a run, I'm exhausted.",
        "Any plans for the weekend?",
        "I'm cooking pasta tonight, want the recipe?",
        "Haha, that's so true!",
        "What kind of music do you listen to?",
        "I went to Lisbon last summer, it was amazing.",
        "Do you prefer the mountains or the sea?",
        "Work was crazy today...",
        "I'm watching a documentary about octopuses 🐙",
        "That sounds like fun!",
        "Tell me something nobody knows about you, {name}.",
        "Coffee or tea?",
        "My cat just knocked my plant over 😅",
        "Are you more of a morning person or a night owl?",
        "I'd love to hear more about that.",
    ),
    stickers=("a cat waving", "a heart with sparkles", "a dog in sunglasses", "a steaming coffee"),
    gifts=(
        ("Teddy Bear", "LOW"),
        ("Box of Chocolates", "LOW"),
        ("Bouquet of Roses", "MEDIUM"),
        ("Champagne & Roses", "HIGH"),
        ("Diamond Ring", "VERY_HIGH"),
    ),
    jobs=(("Nurse", "Nurse"), ("Architect", "Architect"), ("Teacher", "Teacher"), ("Chef", "Chef")),
    descriptions=(
        "Coffee first, adventures second.",
        "Dog person, bookworm, terrible dancer.",
        "Looking for someone to share pizza and bad movies with.",
    ),
)

_FR = _Phrases(
    women=("Camille", "Léa", "Manon", "Chloé", "Inès", "Juliette", "Sarah", "Margaux"),
    men=("Lucas", "Hugo", "Louis", "Théo", "Nathan", "Julien", "Antoine", "Mathis"),
    places=(
        ("FR", "Lyon", "Europe/Paris", "69001"),
        ("FR", "Nantes", "Europe/Paris", "44000"),
        ("FR", "Bordeaux", "Europe/Paris", "33000"),
        ("BE", "Liège", "Europe/Brussels", "4000"),
    ),
    greetings=(
        "Coucou {name} ! Ta journée se passe bien ?",
        "Salut {name} 😊",
        "Bonjour ! J'ai adoré ton profil.",
        "Hello {name}, bien dormi ?",
        "Salut, j'aime beaucoup ton sourire sur ta photo !",
    ),
    lines=(
        "Je rentre de mon footing, quelle fatigue !",
        "Tu as des projets pour le week-end ?",
        "Je fais des pâtes ce soir, tu veux la recette ?",
        "Haha, c'est tellement vrai !",
        "Tu écoutes quel genre de musique ?",
        "J'ai passé l'été dernier à Lisbonne, c'était génial.",
        "Tu préfères la montagne ou la mer ?",
        "Journée de folie au boulot...",
        "Je regarde un documentaire sur les pieuvres 🐙",
        "Ça a l'air super sympa !",
        "Raconte-moi un truc que personne ne sait sur toi, {name}.",
        "Plutôt café ou thé ?",
        "Mon chat vient de renverser ma plante 😅",
        "Tu es plutôt du matin ou du soir ?",
        "J'aimerais bien en savoir plus.",
    ),
    stickers=("un chat qui fait coucou", "un cœur qui brille", "un chien à lunettes de soleil"),
    gifts=(
        ("Ours en peluche", "LOW"),
        ("Boîte de chocolats", "LOW"),
        ("Bouquet de roses", "MEDIUM"),
        ("Champagne et roses", "HIGH"),
        ("Bague en diamant", "VERY_HIGH"),
    ),
    jobs=(
        ("Infirmière", "Infirmier"),
        ("Architecte", "Architecte"),
        ("Développeuse", "Développeur"),
        ("Photographe", "Photographe"),
    ),
    descriptions=(
        "Le café d'abord, l'aventure ensuite.",
        "Fan de chiens et de livres.",
        "Je cherche quelqu'un pour partager une pizza et un film.",
    ),
)

_DE = _Phrases(
    women=("Lena", "Hannah", "Anna", "Mia", "Lea", "Sophie", "Katharina", "Johanna"),
    men=("Jonas", "Leon", "Felix", "Lukas", "Paul", "Maximilian", "Tobias", "Niklas"),
    places=(
        ("DE", "Hamburg", "Europe/Berlin", "20095"),
        ("DE", "Köln", "Europe/Berlin", "50667"),
        ("DE", "Leipzig", "Europe/Berlin", "04109"),
        ("AT", "Wien", "Europe/Vienna", "1010"),
    ),
    greetings=(
        "Hallo {name}! Wie läuft dein Tag?",
        "Hey {name} 😊",
        "Hi! Dein Profil hat mir total gefallen.",
        "Guten Morgen {name}!",
        "Hey, schönes Lächeln auf deinem Foto!",
    ),
    lines=(
        "Ich komme gerade vom Joggen, total fertig.",
        "Hast du Pläne fürs Wochenende?",
        "Ich koche heute Abend Pasta, willst du das Rezept?",
        "Haha, das stimmt so!",
        "Welche Musik hörst du gerne?",
        "Letzten Sommer war ich in Lissabon, es war großartig.",
        "Berge oder Meer?",
        "Die Arbeit war heute verrückt...",
        "Ich schaue gerade eine Doku über Kraken 🐙",
        "Das klingt nach Spaß!",
        "Erzähl mir etwas, das niemand über dich weiß, {name}.",
        "Kaffee oder Tee?",
        "Meine Katze hat gerade meine Pflanze umgeworfen 😅",
        "Bist du eher Frühaufsteher oder Nachteule?",
        "Davon würde ich gern mehr hören.",
    ),
    stickers=("eine winkende Katze", "ein funkelndes Herz", "ein Hund mit Sonnenbrille"),
    gifts=(
        ("Teddybär", "LOW"),
        ("Pralinenschachtel", "LOW"),
        ("Rosenstrauß", "MEDIUM"),
        ("Champagner und Rosen", "HIGH"),
        ("Diamantring", "VERY_HIGH"),
    ),
    jobs=(
        ("Krankenpflegerin", "Krankenpfleger"),
        ("Architektin", "Architekt"),
        ("Lehrerin", "Lehrer"),
        ("Fotografin", "Fotograf"),
    ),
    descriptions=(
        "Erst Kaffee, dann Abenteuer.",
        "Hundemensch, Leseratte, Tanzmuffel.",
        "Suche jemanden für Pizza und schlechte Filme.",
    ),
)

_ES = _Phrases(
    women=("Lucía", "Sofía", "Martina", "Carmen", "Paula", "Elena", "Alba", "Irene"),
    men=("Hugo", "Pablo", "Daniel", "Alejandro", "Javier", "Diego", "Álvaro", "Sergio"),
    places=(
        ("ES", "Sevilla", "Europe/Madrid", "41001"),
        ("ES", "Valencia", "Europe/Madrid", "46001"),
        ("ES", "Bilbao", "Europe/Madrid", "48001"),
        ("MX", "Guadalajara", "America/Mexico_City", "44100"),
    ),
    greetings=(
        "¡Hola {name}! ¿Qué tal tu día?",
        "Hey {name} 😊",
        "¡Hola! Me encantó tu perfil.",
        "¡Buenos días, {name}!",
        "¡Qué sonrisa tan bonita en tu foto!",
    ),
    lines=(
        "Acabo de volver de correr, ¡qué cansancio!",
        "¿Tienes planes para el fin de semana?",
        "Esta noche hago pasta, ¿quieres la receta?",
        "¡Jaja, qué verdad!",
        "¿Qué música sueles escuchar?",
        "El verano pasado fui a Lisboa, fue increíble.",
        "¿Prefieres la montaña o el mar?",
        "Hoy el trabajo fue una locura...",
        "Estoy viendo un documental sobre pulpos 🐙",
        "¡Suena divertido!",
        "Cuéntame algo que nadie sepa de ti, {name}.",
        "¿Café o té?",
        "Mi gato acaba de tirar mi planta 😅",
        "¿Eres más de mañanas o de noches?",
        "Me encantaría saber más.",
    ),
    stickers=("un gato saludando", "un corazón brillante", "un perro con gafas de sol"),
    gifts=(
        ("Osito de peluche", "LOW"),
        ("Caja de bombones", "LOW"),
        ("Ramo de rosas", "MEDIUM"),
        ("Champán y rosas", "HIGH"),
        ("Anillo de diamantes", "VERY_HIGH"),
    ),
    jobs=(
        ("Enfermera", "Enfermero"),
        ("Arquitecta", "Arquitecto"),
        ("Profesora", "Profesor"),
        ("Cocinera", "Cocinero"),
    ),
    descriptions=(
        "Primero café, luego aventuras.",
        "Amante de los perros y los libros.",
        "Busco a alguien con quien compartir pizza y películas malas.",
    ),
)

_IT = _Phrases(
    women=("Giulia", "Chiara", "Francesca", "Sofia", "Martina", "Alessia", "Elena", "Sara"),
    men=("Lorenzo", "Matteo", "Leonardo", "Marco", "Andrea", "Luca", "Davide", "Simone"),
    places=(
        ("IT", "Bologna", "Europe/Rome", "40121"),
        ("IT", "Torino", "Europe/Rome", "10121"),
        ("IT", "Napoli", "Europe/Rome", "80121"),
        ("IT", "Verona", "Europe/Rome", "37121"),
    ),
    greetings=(
        "Ciao {name}! Come va la giornata?",
        "Ehi {name} 😊",
        "Ciao! Mi è piaciuto molto il tuo profilo.",
        "Buongiorno {name}!",
        "Ehi, che bel sorriso nella tua foto!",
    ),
    lines=(
        "Ho appena finito di correre, che fatica!",
        "Hai programmi per il weekend?",
        "Stasera faccio la pasta, vuoi la ricetta?",
        "Ahah, verissimo!",
        "Che musica ascolti?",
        "L'estate scorsa ho visitato Lisbona, bellissima.",
        "Preferisci la montagna o il mare?",
        "Oggi al lavoro è stata una follia...",
        "Sto guardando un documentario sui polpi 🐙",
        "Sembra divertente!",
        "Dimmi qualcosa che nessuno sa di te, {name}.",
        "Caffè o tè?",
        "Il mio gatto ha appena rovesciato la pianta 😅",
        "Sei più tipo da mattina o da sera?",
        "Mi piacerebbe saperne di più.",
    ),
    stickers=("un gatto che saluta", "un cuore scintillante", "un cane con gli occhiali da sole"),
    gifts=(
        ("Orsacchiotto", "LOW"),
        ("Scatola di cioccolatini", "LOW"),
        ("Mazzo di rose", "MEDIUM"),
        ("Champagne e rose", "HIGH"),
        ("Anello di diamanti", "VERY_HIGH"),
    ),
    jobs=(
        ("Infermiera", "Infermiere"),
        ("Architetta", "Architetto"),
        ("Insegnante", "Insegnante"),
        ("Fotografa", "Fotografo"),
    ),
    descriptions=(
        "Prima il caffè, poi l'avventura.",
        "Amo i cani, i libri e il mare.",
        "Cerco qualcuno con cui dividere una pizza e un film.",
    ),
)

_PT_BR = _Phrases(
    women=("Ana", "Beatriz", "Larissa", "Camila", "Juliana", "Mariana", "Fernanda", "Letícia"),
    men=("Gabriel", "Rafael", "Lucas", "Pedro", "Thiago", "Bruno", "Felipe", "Gustavo"),
    places=(
        ("BR", "Curitiba", "America/Sao_Paulo", "80010-000"),
        ("BR", "Recife", "America/Recife", "50030-000"),
        ("BR", "Belo Horizonte", "America/Sao_Paulo", "30130-000"),
        ("BR", "Porto Alegre", "America/Sao_Paulo", "90010-000"),
    ),
    greetings=(
        "Oi {name}! Como está o seu dia?",
        "E aí, {name} 😊",
        "Olá! Adorei o seu perfil.",
        "Bom dia, {name}!",
        "Oi, que sorriso lindo na sua foto!",
    ),
    lines=(
        "Acabei de voltar da corrida, que canseira!",
        "Tem planos para o fim de semana?",
        "Vou fazer macarrão hoje, quer a receita?",
        "Haha, verdade!",
        "Que tipo de música você curte?",
        "Fui para Lisboa no verão passado, foi incrível.",
        "Você prefere montanha ou praia?",
        "O trabalho hoje foi uma loucura...",
        "Estou vendo um documentário sobre polvos 🐙",
        "Parece divertido!",
        "Me conta algo que ninguém sabe sobre você, {name}.",
        "Café ou chá?",
        "Meu gato acabou de derrubar minha planta 😅",
        "Você é mais da manhã ou da noite?",
        "Adoraria saber mais sobre isso.",
    ),
    stickers=("um gato acenando", "um coração brilhante", "um cachorro de óculos escuros"),
    gifts=(
        ("Ursinho de pelúcia", "LOW"),
        ("Caixa de bombons", "LOW"),
        ("Buquê de rosas", "MEDIUM"),
        ("Champanhe e rosas", "HIGH"),
        ("Anel de diamante", "VERY_HIGH"),
    ),
    jobs=(
        ("Enfermeira", "Enfermeiro"),
        ("Arquiteta", "Arquiteto"),
        ("Professora", "Professor"),
        ("Fotógrafa", "Fotógrafo"),
    ),
    descriptions=(
        "Primeiro o café, depois a aventura.",
        "Fã de cachorros e livros.",
        "Procuro alguém para dividir uma pizza e um filme ruim.",
    ),
)

_NL = _Phrases(
    women=("Sanne", "Lotte", "Emma", "Fleur", "Anouk", "Iris", "Sophie", "Noor"),
    men=("Daan", "Bram", "Sem", "Lars", "Thijs", "Ruben", "Jesse", "Milan"),
    places=(
        ("NL", "Utrecht", "Europe/Amsterdam", "3511"),
        ("NL", "Rotterdam", "Europe/Amsterdam", "3011"),
        ("NL", "Groningen", "Europe/Amsterdam", "9711"),
        ("BE", "Gent", "Europe/Brussels", "9000"),
    ),
    greetings=(
        "Hoi {name}! Hoe gaat je dag?",
        "Hey {name} 😊",
        "Hallo! Ik vond je profiel echt leuk.",
        "Goedemorgen {name}!",
        "Hey, mooie glimlach op je foto!",
    ),
    lines=(
        "Ik kom net terug van hardlopen, ik ben kapot.",
        "Heb je plannen voor het weekend?",
        "Ik maak vanavond pasta, wil je het recept?",
        "Haha, zo waar!",
        "Naar wat voor muziek luister je?",
        "Vorige zomer was ik in Lissabon, het was geweldig.",
        "Liever de bergen of de zee?",
        "Werk was vandaag gekkenwerk...",
        "Ik kijk een documentaire over octopussen 🐙",
        "Dat klinkt leuk!",
        "Vertel me iets wat niemand over je weet, {name}.",
        "Koffie of thee?",
        "Mijn kat gooide net mijn plant om 😅",
        "Ben je een ochtendmens of een nachtuil?",
        "Daar hoor ik graag meer over.",
    ),
    stickers=("een zwaaiende kat", "een glinsterend hart", "een hond met een zonnebril"),
    gifts=(
        ("Teddybeer", "LOW"),
        ("Doos bonbons", "LOW"),
        ("Boeket rozen", "MEDIUM"),
        ("Champagne en rozen", "HIGH"),
        ("Diamanten ring", "VERY_HIGH"),
    ),
    jobs=(("Verpleegkundige", "Verpleegkundige"), ("Architect", "Architect"), ("Docent", "Docent")),
    descriptions=(
        "Eerst koffie, dan avontuur.",
        "Hondenmens, boekenwurm, slechte danser.",
        "Op zoek naar iemand om pizza en slechte films mee te delen.",
    ),
)

# Languages without phrases of their own borrow those of their base language, else English.
_PHRASES: dict[str, _Phrases] = {
    "EN": _EN,
    "FR": _FR,
    "DE": _DE,
    "ES": _ES,
    "IT": _IT,
    "PT": _PT_BR,
    "NL": _NL,
}

_NICKNAMES = ("sunny", "moonlight", "wanderer", "pixel", "velvet", "breeze", "maple", "nova")
_WOMEN = (Gender.WOMAN, Gender.TRANS_WOMAN, Gender.TRANSFEMININE)
_MEN = (Gender.MAN, Gender.TRANS_MAN, Gender.TRANSMASCULINE)
# Conversations start somewhere in the first half of 2025, whatever the day it is run.
_EPOCH = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)


def _phrases(language: str) -> _Phrases:
    return _PHRASES.get(language) or _PHRASES.get(language.split("_", 1)[0], _EN)


def _stamp(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gender(rng: random.Random) -> Gender:
    # Mostly women and men, with transgender profiles now and then.
    if rng.random() < 0.08:
        return rng.choice((*_WOMEN[1:], *_MEN[1:]))
    return rng.choice((Gender.WOMAN, Gender.MAN))


def _name(rng: random.Random, phrases: _Phrases, gender: Gender, taken: str | None) -> str:
    names = phrases.women if gender in _WOMEN else phrases.men
    return rng.choice([name for name in names if name != taken])


def _profile(
    rng: random.Random,
    phrases: _Phrases,
    pid: str,
    gender: Gender,
    interests: list[str],
    *,
    persona: bool,
    taken: str | None = None,
) -> dict[str, Any]:
    name = _name(rng, phrases, gender, taken)
    profile: dict[str, Any] = {"id": pid, "gender": gender.value}
    roll = rng.random()
    if roll < 0.1:
        profile["nickname"] = f"{rng.choice(_NICKNAMES)}_{rng.randint(10, 99)}"
    else:
        profile["firstName"] = name
        if roll > 0.7:
            profile["nickname"] = f"{name.lower()}{rng.randint(1, 99)}"
    if rng.random() < 0.7:
        born = _dt.date(1965, 1, 1) + _dt.timedelta(days=rng.randint(0, 36 * 365))
        profile["birthdate"] = born.isoformat()
    if rng.random() < 0.75:
        country, city, zone, postal = rng.choice(phrases.places)
        profile.update(countryCode=country, city=city, timeZone=zone)
        if rng.random() < 0.4:
            profile["postalCode"] = postal
    if rng.random() < 0.4:
        profile["description"] = rng.choice(phrases.descriptions)
    features: dict[str, Any] = {"interests": interests}
    if rng.random() < 0.5:
        as_woman, as_man = rng.choice(phrases.jobs)
        features["job"] = as_woman if gender in _WOMEN else as_man
    if rng.random() < 0.4:
        features["sports"] = rng.sample([s.value for s in Sport], rng.randint(1, 3))
    if rng.random() < 0.4:
        features["musicGenres"] = rng.sample([g.value for g in MusicGenre], rng.randint(1, 3))
    if rng.random() < 0.3:
        features["height"] = rng.randint(155, 195)
    profile["features"] = features
    if persona:
        profile["personality"] = rng.choice(list(Personality)).value
        if rng.random() < 0.5:
            profile["mainPictureUrl"] = f"https://example.org/personas/{pid}.jpg"
    return profile


def _interests(rng: random.Random) -> tuple[list[str], list[str]]:
    """Interests of the user and the persona; most pairs share one or two."""
    pool = [i.value for i in Interest]
    user = rng.sample(pool, rng.randint(1, 5))
    persona = rng.sample([i for i in pool if i not in user], rng.randint(1, 4))
    if rng.random() < 0.6:
        persona[: rng.randint(1, min(2, len(user)))] = user[:2]
    return user, list(dict.fromkeys(persona))


def _messages(
    rng: random.Random,
    phrases: _Phrases,
    conversation: str,
    user_name: str,
    persona_name: str,
) -> list[dict[str, Any]]:
    count = rng.randint(1, MAX_MESSAGES)
    # The last message is the user's: that is when a reply suggestion is wanted.
    first_sender = "USER" if count % 2 == 1 else "PERSONA"
    moment = _EPOCH + _dt.timedelta(seconds=rng.randint(0, 180 * 86_400))
    lines = rng.sample(phrases.lines, min(count, len(phrases.lines)))
    messages: list[dict[str, Any]] = []
    for k in range(count):
        sender = first_sender if k % 2 == 0 else ("PERSONA" if first_sender == "USER" else "USER")
        to = persona_name if sender == "USER" else user_name
        template = rng.choice(phrases.greetings) if k == 0 else lines[k % len(lines)]
        message: dict[str, Any] = {
            "id": f"{conversation}-m{k + 1}",
            "sender": sender,
            "date": _stamp(moment),
            "text": template.format(name=to),
        }
        if sender == "USER" and k > 0:
            roll = rng.random()
            if roll < 0.08:
                name, tier = rng.choice(phrases.gifts)
                message["gifts"] = [{"name": name, "tier": GiftTier(tier).value}]
                if rng.random() < 0.5:
                    del message["text"]  # a gift on its own says enough
            elif roll < 0.14:
                message["sticker"] = rng.choice(phrases.stickers)
            elif roll < 0.19:
                message["poke"] = True
                del message["text"]
            elif roll < 0.22:
                message["pictureUrls"] = [f"https://example.org/chat/{conversation}-{k}.jpg"]
        messages.append(message)
        moment += _dt.timedelta(seconds=rng.randint(20, 3 * 3600))
    return messages


def _conversation(seed: int, index: int, languages: Sequence[str]) -> dict[str, Any]:
    # A string seed is hashed the same way on every platform and Python version.
    rng = random.Random(f"dumgum-samples:{seed}:{index}")
    language = rng.choice(languages)
    phrases = _phrases(language)
    conversation = f"s{seed}-c{index + 1}"
    user_gender = _gender(rng)
    persona_gender = _gender(rng)
    user_interests, persona_interests = _interests(rng)
    user = _profile(rng, phrases, f"{conversation}-u", user_gender, user_interests, persona=False)
    persona = _profile(
        rng,
        phrases,
        f"{conversation}-p",
        persona_gender,
        persona_interests,
        persona=True,
        taken=user.get("firstName"),
    )
    if rng.random() < 0.8:
        user["features"]["lookingFor"] = ["WOMAN" if persona_gender in _WOMEN else "MAN"]
    messages = _messages(
        rng,
        phrases,
        conversation,
        user.get("firstName") or user["nickname"],
        persona.get("firstName") or persona["nickname"],
    )
    return {
        "userProfile": user,
        "personaProfile": persona,
        "language": language,
        "messages": messages,
    }


def sample_requests(
    n: int,
    *,
    seed: int = 0,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
) -> Iterator[dict[str, Any]]:
    """Generate ``n`` varied, valid request bodies in the API's JSON shape.

    Each conversation has a user and a persona with names, genders, interests (often
    shared), places and other details fitting its language, and 1 to 12 messages
    alternating between them and ending with the user's, in natural short sentences of
    that language; some carry gifts, stickers, pokes or pictures.  Message ids are unique
    across all conversations of a seed; dates are UTC (``...Z``) and increase.  Languages
    without phrases of their own (``JA``, say) get English text.

    Generation is lazy and deterministic: conversation ``i`` depends only on ``seed`` and
    ``i``, never on ``n`` or the clock.

    Args:
        n: How many conversations.
        seed: Selects the set of conversations.
        languages: Language codes (``Language`` values) to choose from, uniformly.

    Yields:
        One new ``dict`` per conversation, safe to modify.

    Raises:
        ValueError: ``n`` is negative, ``languages`` is empty or holds an unknown code.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    chosen = tuple(languages)
    if not chosen:
        raise ValueError("languages must not be empty")
    known = {language.value for language in Language}
    unknown = [code for code in chosen if code not in known]
    if unknown:
        raise ValueError(f"unknown language code(s): {', '.join(map(repr, unknown))}")
    return (_conversation(seed, index, chosen) for index in range(n))
