"""The API's enumerations, one class per enumerated field of the spec.

Each member's value is its wire string. The vendor adds values over time (new
languages above all), so a value this release does not know can be carried through
untouched when the caller opts in (``strict_enums=False``): it becomes an *unknown
member*, an instance of the right enum class whose ``is_known`` is False and whose
value is the string exactly as received.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

_E = TypeVar("_E", bound="WireEnum")

# One pseudo-member per (class, value), so that the same unknown value is usually
# the same object. Bounded: lenient parsing of hostile input must not grow memory
# without end. Past the bound a fresh member is made each time, which is still
# equal (str equality) and hashes alike, so nothing but identity changes.
_UNKNOWN: dict[tuple[type[WireEnum], str], WireEnum] = {}
_MAX_UNKNOWN = 4096


def _restore_unknown(cls: type[_E], value: str) -> _E:
    return cls.unknown(value)


class WireEnum(str, Enum):
    """Base of every enumeration: a ``str`` whose value is the API's spelling."""

    def __str__(self) -> str:
        return self._value_  # type: ignore[no-any-return]

    @classmethod
    def unknown(cls: type[_E], value: str) -> _E:
        """Return the member standing for ``value``, creating an unknown member if needed.

        Used when parsing with ``strict_enums=False``; the value goes back to the API
        exactly as it came.

        Args:
            value: The wire string.

        Raises:
            TypeError: ``value`` is not a ``str``.
        """
        known = cls._value2member_map_.get(value)
        if known is not None:
            return known  # type: ignore[return-value]
        if not isinstance(value, str):
            raise TypeError(f"{cls.__name__} values are strings, got {type(value).__name__}")
        key = (cls, value)
        member = _UNKNOWN.get(key)
        if member is None:
            member = str.__new__(cls, value)
            member._value_ = value
            member._name_ = value
            if len(_UNKNOWN) < _MAX_UNKNOWN:
                _UNKNOWN[key] = member
        return member  # type: ignore[return-value]

    @property
    def is_known(self) -> bool:
        """False for a value this release of the library does not know."""
        return self._value_ in type(self)._value2member_map_

    def __reduce_ex__(self, protocol: Any) -> Any:
        if self.is_known:
            return type(self), (self._value_,)
        return _restore_unknown, (type(self), self._value_)

    def __deepcopy__(self, memo: Any) -> WireEnum:
        return self

    def __copy__(self) -> WireEnum:
        return self


#: Spellings of older vendor documents, read as the current member.
ALIASES: dict[type[WireEnum], dict[str, str]] = {}


class Gender(WireEnum):
    """Gender of a profile owner or of a child."""

    WOMAN = "WOMAN"
    MAN = "MAN"
    TRANS_MAN = "TRANS_MAN"
    TRANSMASCULINE = "TRANSMASCULINE"
    TRANS_WOMAN = "TRANS_WOMAN"
    TRANSFEMININE = "TRANSFEMININE"


class Language(WireEnum):
    """Language the suggestions are written in."""

    EN = "EN"
    EN_GB = "EN_GB"
    FR = "FR"
    FR_BE = "FR_BE"
    RO = "RO"
    NL = "NL"
    ES = "ES"
    DE = "DE"
    DE_CH = "DE_CH"
    DE_AT = "DE_AT"
    IT = "IT"
    ES_LATAM = "ES_LATAM"
    BG = "BG"
    HE = "HE"
    JA = "JA"
    NL_BE = "NL_BE"
    EN_AU = "EN_AU"
    PT_PT = "PT_PT"
    PT_BR = "PT_BR"
    SV_SE = "SV_SE"
    DA_DK = "DA_DK"
    FI_FI = "FI_FI"
    PL_PL = "PL_PL"
    LT_LT = "LT_LT"
    NB_NO = "NB_NO"
    NN_NO = "NN_NO"
    SL_SI = "SL_SI"
    HU = "HU"
    HU_HU = "HU_HU"
    CS_CZ = "CS_CZ"
    EL_GR = "EL_GR"
    EL_GR_LATIN = "EL_GR_LATIN"
    EL_GR_GREEK = "EL_GR_GREEK"
    HR_HR = "HR_HR"
    TR_TR = "TR_TR"
    EN_IE = "EN_IE"
    AF_ZA = "AF_ZA"
    ZU_ZA = "ZU_ZA"
    LV_LV = "LV_LV"
    SK_SK = "SK_SK"
    GA_IE = "GA_IE"
    SR_RS = "SR_RS"
    ET_EE = "ET_EE"
    EN_CA = "EN_CA"
    FR_CA = "FR_CA"
    RU_RU = "RU_RU"
    UA_UA = "UA_UA"


class Personality(WireEnum):
    """Personality of a profile."""

    SUPPORTIVE = "SUPPORTIVE"
    TEASING = "TEASING"
    CONFIDENT = "CONFIDENT"
    GEEKY = "GEEKY"
    POETIC = "POETIC"
    HIGH_ENERGY = "HIGH_ENERGY"
    INTELLECTUAL = "INTELLECTUAL"
    ROMANTIC = "ROMANTIC"
    SARCASTIC = "SARCASTIC"
    POSSESSIVE = "POSSESSIVE"
    NATURAL = "NATURAL"
    APPRECIATIVE = "APPRECIATIVE"
    PASSIONATE = "PASSIONATE"


class Sender(WireEnum):
    """Who sent a message: the user, or the persona the suggestions are for."""

    USER = "USER"
    PERSONA = "PERSONA"


class GiftTier(WireEnum):
    """The value of a gift."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    VERY_HIGH = "VERY_HIGH"


class PetSex(WireEnum):
    """Sex of a pet."""

    MALE = "MALE"
    FEMALE = "FEMALE"


class Ethnicity(WireEnum):
    """Ethnicity of a profile."""

    ASIAN = "ASIAN"
    BLACK = "BLACK"
    CAUCASIAN = "CAUCASIAN"
    MIDDLE_EAST = "MIDDLE_EAST"
    HISPANIC_LATINO = "HISPANIC_LATINO"
    INDIAN = "INDIAN"
    MEDITERRANEAN = "MEDITERRANEAN"
    OTHER = "OTHER"
    UNCERTAIN = "UNCERTAIN"


class EyesColor(WireEnum):
    """Eye colour."""

    BLACK = "BLACK"
    BLUE_GREY = "BLUE_GREY"
    BLUE = "BLUE"
    BROWN = "BROWN"
    GREEN_BLUE = "GREEN_BLUE"
    GREEN = "GREEN"
    GREY = "GREY"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class HairColor(WireEnum):
    """Hair colour."""

    BLACK = "BLACK"
    BLOND = "BLOND"
    BROWN = "BROWN"
    DARK_BLOND = "DARK_BLOND"
    GREY = "GREY"
    RED = "RED"
    WHITE = "WHITE"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class HairLength(WireEnum):
    """Hair length."""

    AVERAGE = "AVERAGE"
    BALD = "BALD"
    HALF_LONG = "HALF_LONG"
    LONG = "LONG"
    SHORT = "SHORT"
    VERY_LONG = "VERY_LONG"
    VERY_SHORT = "VERY_SHORT"


class MaritalStatus(WireEnum):
    """Marital status."""

    SINGLE = "SINGLE"
    SEPARATED = "SEPARATED"
    IN_RELATIONSHIP = "IN_RELATIONSHIP"
    MARRIED = "MARRIED"
    DIVORCED = "DIVORCED"
    WIDOW = "WIDOW"


class Interest(WireEnum):
    """A general interest."""

    TAILORING = "TAILORING"
    BOOK_READING = "BOOK_READING"
    TRAVELING = "TRAVELING"
    COOKING = "COOKING"
    GARDENING = "GARDENING"
    PHOTOGRAPHY = "PHOTOGRAPHY"
    PAINTING = "PAINTING"
    MUSIC = "MUSIC"
    MOVIES = "MOVIES"
    CYCLING = "CYCLING"
    HIKING = "HIKING"
    FITNESS = "FITNESS"
    GAMING = "GAMING"
    DANCING = "DANCING"
    YOGA = "YOGA"
    SOFTWARE_DEVELOPMENT = "SOFTWARE_DEVELOPMENT"
    DIY_PROJECTS = "DIY_PROJECTS"
    WRITING = "WRITING"
    LANGUAGES = "LANGUAGES"
    ASTRONOMY = "ASTRONOMY"
    VOLUNTEERING = "VOLUNTEERING"
    FISHING = "FISHING"
    BIRD_WATCHING = "BIRD_WATCHING"
    SPORTS = "SPORTS"
    EDUCATION = "EDUCATION"
    ECONOMY = "ECONOMY"
    FOOD_DRINKING = "FOOD_DRINKING"
    CULINARY = "CULINARY"
    TECHNOLOGY = "TECHNOLOGY"
    MEDICAL = "MEDICAL"
    NATURE = "NATURE"
    CULTURE = "CULTURE"
    ART = "ART"


class BdsmInterest(WireEnum):
    """A BDSM interest."""

    BDSM_BLOOD_PLAY = "BDSM_BLOOD_PLAY"
    BDSM_BONDAGE = "BDSM_BONDAGE"
    BDSM_BREATH_PLAY = "BDSM_BREATH_PLAY"
    BDSM_BUTTOCKS = "BDSM_BUTTOCKS"
    BDSM_DOMINATION = "BDSM_DOMINATION"
    BDSM_EDGE_PLAY = "BDSM_EDGE_PLAY"
    BDSM_FIRE_PLAY = "BDSM_FIRE_PLAY"
    BDSM_FISTING = "BDSM_FISTING"
    BDSM_FLOGGING = "BDSM_FLOGGING"
    BDSM_GOLDEN_SHOWER = "BDSM_GOLDEN_SHOWER"
    BDSM_HARD = "BDSM_HARD"
    BDSM_KINKSTER = "BDSM_KINKSTER"
    BDSM_KNIFE_PLAY = "BDSM_KNIFE_PLAY"
    BDSM_MASOCHIST = "BDSM_MASOCHIST"
    BDSM_NEEDLE_PLAY = "BDSM_NEEDLE_PLAY"
    BDSM_ORGASM_DENIAL = "BDSM_ORGASM_DENIAL"
    BDSM_PET_PLAY = "BDSM_PET_PLAY"
    BDSM_QUEENING_FACESITTING = "BDSM_QUEENING_FACESITTING"
    BDSM_SADISM = "BDSM_SADISM"
    BDSM_SOFT = "BDSM_SOFT"
    BDSM_STRAP_ON_DILDO = "BDSM_STRAP_ON_DILDO"
    BDSM_SUBMISSION = "BDSM_SUBMISSION"
    BDSM_SUSPENSION = "BDSM_SUSPENSION"
    BDSM_ZENTAI = "BDSM_ZENTAI"


class SexualInterest(WireEnum):
    """A sexual interest."""

    ANAL = "ANAL"
    VAGINAL = "VAGINAL"
    ORAL_GIVING = "ORAL_GIVING"
    ORAL_RECEIVING = "ORAL_RECEIVING"
    KISSING = "KISSING"
    CUDDLING = "CUDDLING"
    DOMINANCE = "DOMINANCE"
    SUBMISSION = "SUBMISSION"
    BDSM = "BDSM"
    ROLEPLAY = "ROLEPLAY"
    PUBLIC_SEX = "PUBLIC_SEX"
    GROUP_SEX = "GROUP_SEX"
    SWINGING = "SWINGING"
    WATCHING = "WATCHING"
    BEING_WATCHED = "BEING_WATCHED"
    THREESOME = "THREESOME"
    FOREPLAY = "FOREPLAY"
    DIRTY_TALK = "DIRTY_TALK"
    SENSUAL_MASSAGE = "SENSUAL_MASSAGE"
    TOYS = "TOYS"
    LIGHT_BONDAGE = "LIGHT_BONDAGE"
    SPANKING = "SPANKING"
    CHOKING = "CHOKING"
    FEET = "FEET"
    EXHIBITIONISM = "EXHIBITIONISM"
    VOYEURISM = "VOYEURISM"


class LookingFor(WireEnum):
    """A gender the profile is looking for."""

    MAN = "MAN"
    WOMAN = "WOMAN"


class SexualOrientation(WireEnum):
    """Sexual orientation."""

    HETEROSEXUAL = "HETEROSEXUAL"
    GAY = "GAY"
    LESBIAN = "LESBIAN"
    BISEXUAL = "BISEXUAL"
    ASEXUAL = "ASEXUAL"
    DEMISEXUAL = "DEMISEXUAL"
    PANSEXUAL = "PANSEXUAL"
    QUEER = "QUEER"
    QUESTIONING = "QUESTIONING"
    AROMANTIC = "AROMANTIC"
    OMNISEXUAL = "OMNISEXUAL"
    OTHER = "OTHER"


class WantsChildren(WireEnum):
    """Preference for having children."""

    YES = "YES"
    NO = "NO"
    MAYBE = "MAYBE"


class SurgeryStatus(WireEnum):
    """Surgery status (transgender profiles only)."""

    UNKNOWN = "UNKNOWN"
    PRE_OP = "PRE_OP"
    POST_OP = "POST_OP"
    NON_OP = "NON_OP"
    PREFER_NOT_TO_SAY = "PREFER_NOT_TO_SAY"


class UnitSystem(WireEnum):
    """Unit system of height and weight; the API assumes METRIC when omitted."""

    IMPERIAL = "IMPERIAL"
    METRIC = "METRIC"


class LivingWith(WireEnum):
    """Current living situation."""

    ALONE = "ALONE"
    KIDS = "KIDS"
    PARENTS = "PARENTS"
    ROOMMATE = "ROOMMATE"
    PARTNER = "PARTNER"
    PARTNER_AND_KIDS = "PARTNER_AND_KIDS"


class Education(WireEnum):
    """Education level."""

    NO_EDUCATION = "NO_EDUCATION"
    PRIMARY_EDUCATION = "PRIMARY_EDUCATION"
    HIGH_SCHOOL_DIPLOMA = "HIGH_SCHOOL_DIPLOMA"
    ASSOCIATES_DEGREE = "ASSOCIATES_DEGREE"
    BACHELORS_DEGREE = "BACHELORS_DEGREE"
    MASTERS_DEGREE = "MASTERS_DEGREE"
    DOCTORATE = "DOCTORATE"


class Religion(WireEnum):
    """Religion."""

    NO_RELIGION = "NO_RELIGION"
    AGNOSTIC = "AGNOSTIC"
    CHRISTIAN = "CHRISTIAN"
    CATHOLIC = "CATHOLIC"
    PROTESTANT = "PROTESTANT"
    MUSLIM = "MUSLIM"
    JEWISH = "JEWISH"
    HINDU = "HINDU"
    BUDDHIST = "BUDDHIST"
    SPIRITUAL = "SPIRITUAL"
    OTHER = "OTHER"


class Smoking(WireEnum):
    """Smoking habits."""

    NEVER = "NEVER"
    OCCASIONALLY = "OCCASIONALLY"
    REGULARLY = "REGULARLY"
    TRYING_TO_QUIT = "TRYING_TO_QUIT"
    VAPING = "VAPING"


class BodyShape(WireEnum):
    """Body shape."""

    SLIM = "SLIM"
    ATHLETIC = "ATHLETIC"
    AVERAGE = "AVERAGE"
    FEW_EXTRA_POUNDS = "FEW_EXTRA_POUNDS"
    CURVY = "CURVY"
    FULL_PLUS_SIZE = "FULL_PLUS_SIZE"
    MUSCULAR = "MUSCULAR"


class Sport(WireEnum):
    """A sport the profile practises."""

    SOCCER = "SOCCER"
    BASKETBALL = "BASKETBALL"
    TENNIS = "TENNIS"
    SWIMMING = "SWIMMING"
    RUNNING = "RUNNING"
    CYCLING = "CYCLING"
    GYM_CROSSFIT = "GYM_CROSSFIT"
    YOGA = "YOGA"
    MARTIAL_ARTS = "MARTIAL_ARTS"
    VOLLEYBALL = "VOLLEYBALL"
    GOLF = "GOLF"
    SKIING_SNOWBOARDING = "SKIING_SNOWBOARDING"
    RUGBY = "RUGBY"
    SURFING = "SURFING"


class MusicGenre(WireEnum):
    """A music genre the profile likes."""

    POP = "POP"
    ROCK = "ROCK"
    HIP_HOP_RAP = "HIP_HOP_RAP"
    RNB_SOUL = "RNB_SOUL"
    ELECTRONIC_DANCE = "ELECTRONIC_DANCE"
    CLASSICAL = "CLASSICAL"
    JAZZ = "JAZZ"
    COUNTRY = "COUNTRY"
    METAL = "METAL"
    INDIE_FOLK = "INDIE_FOLK"
    LATIN = "LATIN"
    REGGAE = "REGGAE"
    TECHNO = "TECHNO"


# The older vendor page spells this PASSIONNATE; the OpenAPI document says PASSIONATE.
ALIASES[Personality] = {"PASSIONNATE": "PASSIONATE"}
