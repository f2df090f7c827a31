"""The same request modelled with pydantic v2, as the data-layer benchmark's baseline.

Faithful enough to be a fair comparison: the same enums, length limits, https
patterns, aware datetimes and camelCase aliases as dumgum_async's own models.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

import dumgum_async as dg

Https = Annotated[str, StringConstraints(pattern=r"^https://\S")]
Http = Annotated[str, StringConstraints(pattern=r"^https?://\S")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class _Base(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Gift(_Base):
    name: str
    tier: dg.GiftTier


class Child(_Base):
    name: Name | None = None
    gender: dg.Gender | None = None
    age: int | None = None


class Pet(_Base):
    name: Name | None = None
    sex: dg.PetSex | None = None
    age: int | None = None
    breed: Name | None = None
    type: Name | None = None


class Features(_Base):
    ethnicity: dg.Ethnicity | None = None
    height: int | None = None
    weight: int | None = None
    eyes_color: dg.EyesColor | None = None
    hair_color: dg.HairColor | None = None
    hair_length: dg.HairLength | None = None
    marital_status: dg.MaritalStatus | None = None
    job: Annotated[str, StringConstraints(max_length=32)] | None = None
    working: bool | None = None
    interests: tuple[dg.Interest, ...] = ()
    bdsm_interests: tuple[dg.BdsmInterest, ...] = ()
    sexual_interests: tuple[dg.SexualInterest, ...] = ()
    looking_for: tuple[dg.LookingFor, ...] = ()
    sexual_orientation: dg.SexualOrientation | None = None
    children_count: int | None = None
    wants_children: dg.WantsChildren | None = None
    surgery_status: dg.SurgeryStatus | None = None
    unit_system: dg.UnitSystem | None = None
    living_with: dg.LivingWith | None = None
    education: dg.Education | None = None
    religion: dg.Religion | None = None
    smoking: dg.Smoking | None = None
    body_shape: dg.BodyShape | None = None
    sports: tuple[dg.Sport, ...] = ()
    music_genres: tuple[dg.MusicGenre, ...] = ()


class Profile(_Base):
    id: str
    gender: dg.Gender
    version: str | None = None
    first_name: str | None = None
    nickname: str | None = None
    description: str | None = None
    birthdate: dt.date | None = None
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = None
    city: Annotated[str, StringConstraints(max_length=64)] | None = None
    postal_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    time_zone: str | None = None
    features: Features | None = None
    personality: dg.Personality | None = None
    main_picture_url: Https | None = None
    pictures: tuple[Https, ...] = ()
    private_pictures: tuple[Https, ...] = ()
    expires_at: AwareDatetime | None = None
    children: tuple[Child, ...] = ()
    pets: tuple[Pet, ...] = ()


class Message(_Base):
    id: str
    sender: dg.Sender
    date: AwareDatetime
    picture_urls: tuple[Http, ...] = ()
    poke: bool | None = None
    gifts: tuple[Gift, ...] = ()
    sticker: Annotated[str, StringConstraints(max_length=160)] | None = None
    text: Annotated[str, StringConstraints(max_length=512)] | None = None


class SuggestionRequest(_Base):
    user_profile: Profile
    persona_profile: Profile
    language: dg.Language
    messages: tuple[Message, ...] = Field(...)
