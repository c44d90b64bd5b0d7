"""How the API's request serializers read in the OpenAPI schema: closed objects."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension

from assessments.hr.api.base import StrictSerializer


class StrictSerializerSchema(OpenApiSerializerExtension):
    """A request body that refuses unknown fields says so: ``additionalProperties: false``."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
