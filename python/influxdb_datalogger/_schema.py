"""Measurements, fields, tags and the maps that carry their values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Iterable, Optional, Tuple, TypeVar

from . import _native
from .exceptions import DataLoggerTypeError, SchemaError, ValidationError

__all__ = ["DataLoggerMap", "Field", "FieldMap", "Measurement", "Tag", "TagMap"]

# Measurements by name, so that entries read back from the core carry the Measurement object.
_MEASUREMENTS: Dict[str, Measurement] = {}


def _set_options(
    obj: Any, args_func: Tuple[Any, ...], func: Optional[Callable[..., Any]], desc: Optional[str], default: Any
) -> None:
    obj.func = func
    obj.desc = desc
    obj.default = default
    obj.args_func = tuple(args_func)


class Field(str):
    """A field of a measurement; a ``str`` (it compares and hashes as its name).

    ``default`` is used when a log call gives no value; ``func(*args_func)`` is called at every
    log that gives no value.
    """

    field_name: str
    func: Optional[Callable[..., Any]]
    desc: Optional[str]
    default: Any
    args_func: Tuple[Any, ...]

    def __new__(
        cls,
        field_name: str,
        *args_func: object,
        func: Optional[Callable[..., Any]] = None,
        desc: Optional[str] = None,
        default: Any = None,
    ) -> Field:
        obj = super().__new__(cls, field_name)
        obj.field_name = field_name
        _set_options(obj, args_func, func, desc, default)
        return obj


class Tag(str):
    """A tag of a measurement; a ``str``. It may have a ``default`` or a ``func``, not both."""

    tag_name: str
    func: Optional[Callable[..., Any]]
    desc: Optional[str]
    default: Any
    args_func: Tuple[Any, ...]

    def __new__(
        cls,
        tag_name: str,
        *args_func: object,
        func: Optional[Callable[..., Any]] = None,
        desc: Optional[str] = None,
        default: Any = None,
    ) -> Tag:
        if func and default:
            raise SchemaError(f"tag {tag_name!r}: both 'func' and 'default' cannot be configured at the same time")
        obj = super().__new__(cls, tag_name)
        obj.tag_name = tag_name
        _set_options(obj, args_func, func, desc, default)
        return obj


_Map = TypeVar("_Map", bound="DataLoggerMap")


class DataLoggerMap(dict):  # type: ignore[type-arg]
    """A ``dict`` from fields or tags to values."""

    key_type: ClassVar[type] = str

    def __init__(self, kwargs: Optional[Dict[Any, Any]] = None) -> None:
        super().__init__(kwargs or {})

    if TYPE_CHECKING:

        @classmethod
        def build(cls: type[_Map], *items: Any) -> _Map:
            """Pairs up ``key, value, key, value, ...``."""

    else:
        # In Rust: the original README builds both maps in every log() call.
        build = classmethod(_native._build_map)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # FieldMap's and TagMap's own fast build makes exactly their class: a subclass of the
        # user's gets the general one, which makes the subclass.
        if "build" not in vars(cls):
            cls.build = classmethod(_native._build_map)  # type: ignore[assignment, method-assign]

    def add(self, key: Any, value: Any) -> None:
        """Adds a key that is not present yet."""
        if key in self:
            raise ValidationError(f"{key!r} is already present in the {type(self).__name__} (mapped to {self[key]!r})")
        self[key] = value

    def copy(self: _Map) -> _Map:
        return type(self)(dict(self))


class TagMap(DataLoggerMap):
    """Tag values of a log call."""

    key_type = Tag
    if not TYPE_CHECKING:
        build = staticmethod(_native._build_tag_map)


class FieldMap(DataLoggerMap):
    """Field values of a log call."""

    key_type = Field
    if not TYPE_CHECKING:
        build = staticmethod(_native._build_field_map)


class Measurement(str):
    """A measurement: a name with the fields and tags it carries; a ``str``.

    Names are checked (and escaped for line protocol) once, here.
    """

    key_name: str
    desc: Optional[str]
    fields: set  # type: ignore[type-arg]
    tags: set  # type: ignore[type-arg]
    optional_tags: Any
    _schema: _native.Schema

    def __new__(
        cls,
        measurement_name: str,
        *fields_and_tags: Any,
        optional_tags: Optional[Iterable[Tag]] = None,
        desc: Optional[str] = None,
    ) -> Measurement:
        obj = super().__new__(cls, measurement_name)
        obj.key_name = measurement_name
        obj.desc = desc
        obj.fields = set()
        obj.tags = set()
        ordered_fields: Dict[str, Field] = {}
        ordered_tags: Dict[str, Tag] = {}
        for item in fields_and_tags:
            if isinstance(item, Tag):
                obj.tags.add(item)
                ordered_tags.setdefault(str(item), item)
            elif isinstance(item, Field):
                obj.fields.add(item)
                ordered_fields.setdefault(str(item), item)
            else:
                raise DataLoggerTypeError(
                    f"measurement {measurement_name!r}: unsupported type for a field or tag: "
                    f"{type(item).__name__} ({item!r})"
                )
        optional = list(optional_tags) if optional_tags else []
        for tag in optional:
            if not isinstance(tag, Tag):
                raise DataLoggerTypeError(
                    f"measurement {measurement_name!r}: optional tags must be Tag, not {type(tag).__name__} ({tag!r})"
                )
            obj.tags.add(tag)
            ordered_tags.setdefault(str(tag), tag)
        obj.optional_tags = optional_tags if optional_tags else set()
        optional_names = {str(t) for t in optional}
        obj._field_funcs = [f for f in ordered_fields.values() if f.func is not None]
        obj._tag_funcs = [t for t in ordered_tags.values() if t.func is not None]
        obj._schema = _native.Schema(
            str(measurement_name),
            [(f, f.default) for f in ordered_fields.values()],
            [(t, t.default, str(t) in optional_names) for t in ordered_tags.values()],
            bool(obj._field_funcs or obj._tag_funcs),
        )
        _MEASUREMENTS[str(measurement_name)] = obj
        return obj

    _field_funcs: list  # type: ignore[type-arg]
    _tag_funcs: list  # type: ignore[type-arg]

    def _func_values(
        self, fields_map: Optional[Dict[Any, Any]], tags_map: Optional[Dict[Any, Any]]
    ) -> Tuple[Dict[Any, Any], Dict[Any, Any]]:
        """Values of the fields and tags computed by functions, for those not given."""
        fields = {f: f.func(*f.args_func) for f in self._field_funcs if not fields_map or f not in fields_map}
        tags = {t: t.func(*t.args_func) for t in self._tag_funcs if not tags_map or t not in tags_map}
        return fields, tags

    def get_predefined_tags(self) -> TagMap:
        """The values of the tags that have a function, computed now."""
        return TagMap({t: t.func(*t.args_func) for t in self.tags if t.func is not None})

    def get_defaulted_tags(self) -> TagMap:
        """The tags that have a default, with it."""
        return TagMap({t: t.default for t in self.tags if t.default is not None})

    def get_predefined_fields(self) -> FieldMap:
        """The values of the fields that have a function, computed now."""
        return FieldMap({f: f.func(*f.args_func) for f in self.fields if f.func is not None})

    def get_default_fields(self) -> FieldMap:
        """The fields that have a default, with it."""
        return FieldMap({f: f.default for f in self.fields if f.default is not None})


def _measurement_named(name: str) -> Any:
    """The Measurement object called ``name``, or the bare name if none was defined."""
    return _MEASUREMENTS.get(name, name)
