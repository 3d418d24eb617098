"""Field slots of TFLite Metadata, named after their fields in the published ``metadata_schema.fbs``.

A FlatBuffer table addresses a field by its slot: the field's position in the table's declaration
(a union field takes two slots, ``<name>_type`` then ``<name>``). The writer and reader in
``metadata.py`` use these names, so that each one can be checked against the schema;
``tests/tf/test_metadata_schema.py`` reads the ``metadata_schema.fbs`` that MediaPipe ships and
compares every slot here with it. ``COUNT`` is the number of slots the table had in schema 1.1 (what
``StartObject`` takes; later versions append fields, which older readers skip). Tables and fields
edgevision never writes or reads are left out.
"""

from __future__ import annotations


class AssociatedFile:
    NAME, DESCRIPTION, TYPE, LOCALE = 0, 1, 2, 3
    COUNT = 4


class ImageSize:
    WIDTH, HEIGHT = 0, 1
    COUNT = 2


class ImageProperties:
    COLOR_SPACE, DEFAULT_SIZE = 0, 1
    COUNT = 2


class Content:
    CONTENT_PROPERTIES_TYPE, CONTENT_PROPERTIES, RANGE = 0, 1, 2
    COUNT = 3


class NormalizationOptions:
    MEAN, STD = 0, 1
    COUNT = 2


class ProcessUnit:
    OPTIONS_TYPE, OPTIONS = 0, 1
    COUNT = 2


class Stats:
    MAX, MIN = 0, 1
    COUNT = 2


class TensorMetadata:
    NAME, DESCRIPTION, DIMENSION_NAMES, CONTENT, PROCESS_UNITS, STATS, ASSOCIATED_FILES = 0, 1, 2, 3, 4, 5, 6
    COUNT = 7


class SubGraphMetadata:
    NAME, DESCRIPTION, INPUT_TENSOR_METADATA, OUTPUT_TENSOR_METADATA, ASSOCIATED_FILES = 0, 1, 2, 3, 4
    INPUT_PROCESS_UNITS, OUTPUT_PROCESS_UNITS = 5, 6
    COUNT = 7


class ModelMetadata:
    NAME, DESCRIPTION, VERSION, SUBGRAPH_METADATA, AUTHOR, LICENSE, ASSOCIATED_FILES = 0, 1, 2, 3, 4, 5, 6
    MIN_PARSER_VERSION = 7
    COUNT = 8


# union ContentProperties / ProcessUnitOptions: the member's position in the union, counted from 1 (0 is NONE)
CONTENT_FEATURE_PROPERTIES, CONTENT_IMAGE_PROPERTIES = 1, 2
UNIT_NORMALIZATION_OPTIONS = 1
