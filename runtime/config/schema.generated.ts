// Generated from runtime/config/types.ts by transformers/config-schema.ts: `npm run config-schema`. Do not edit.
import type { JsonSchema } from "../../decorators/descriptor.js";

/** The JSON Schema of `WeftConfig`. */
export const CONFIG_SCHEMA: JsonSchema = {
  "$ref": "#/$defs/WeftConfig"
};

/** The definitions `CONFIG_SCHEMA` refers to. */
export const CONFIG_DEFS: Readonly<Record<string, JsonSchema>> = {
  "DurableConfig": {
    "type": "object",
    "properties": {
      "path": {
        "description": "The SQLite file of durable runs, caches, dead letters and approvals.",
        "readOnly": true,
        "type": "string"
      },
      "synchronous": {
        "description": "`NORMAL` survives a process crash; `FULL` survives power loss (an fsync per append).",
        "readOnly": true,
        "enum": [
          "FULL",
          "NORMAL"
        ]
      }
    },
    "additionalProperties": false
  },
  "LogConfig": {
    "type": "object",
    "properties": {
      "level": {
        "description": "The least severe level written; `silent` writes nothing (the default: weft is quiet).",
        "readOnly": true,
        "enum": [
          "debug",
          "error",
          "info",
          "silent",
          "warn"
        ]
      }
    },
    "additionalProperties": false
  },
  "MetricsConfig": {
    "type": "object",
    "properties": {
      "enabled": {
        "description": "Record op and model metrics through `@opentelemetry/api` (default true; no SDK, no cost).",
        "readOnly": true,
        "type": "boolean"
      }
    },
    "additionalProperties": false
  },
  "ModelsConfig": {
    "type": "object",
    "properties": {
      "default": {
        "description": "The model `models(\"default\", ...)` calls: `provider:model`.",
        "readOnly": true,
        "type": "string",
        "minLength": 1
      }
    },
    "additionalProperties": false
  },
  "ProviderConfig": {
    "type": "object",
    "properties": {
      "baseUrl": {
        "description": "An OpenAI-compatible endpoint's base URL (`https://api.openai.com/v1`).",
        "readOnly": true,
        "type": "string",
        "format": "uri"
      },
      "apiKey": {
        "description": "The API key. Prefer the credentials file (`weft configure set --credential`) or the\nenvironment: a config file is usually not private.",
        "readOnly": true,
        "type": "string"
      },
      "model": {
        "description": "The model `weft models list` and `weft health` use for this provider.",
        "readOnly": true,
        "type": "string"
      }
    },
    "additionalProperties": false
  },
  "WeftConfig": {
    "type": "object",
    "properties": {
      "models": {
        "readOnly": true,
        "$ref": "#/$defs/ModelsConfig"
      },
      "providers": {
        "description": "Model providers by name (`openai`, or a name of your own for another compatible endpoint).",
        "readOnly": true,
        "type": "object",
        "plainObject": true,
        "additionalProperties": {
          "$ref": "#/$defs/ProviderConfig"
        }
      },
      "durable": {
        "readOnly": true,
        "$ref": "#/$defs/DurableConfig"
      },
      "log": {
        "readOnly": true,
        "$ref": "#/$defs/LogConfig"
      },
      "metrics": {
        "readOnly": true,
        "$ref": "#/$defs/MetricsConfig"
      },
      "concurrency": {
        "description": "Maximum concurrent top-level op calls (`configure({ concurrency })`).",
        "readOnly": true,
        "type": "number",
        "minimum": 1
      },
      "validate": {
        "description": "Validate op inputs and outputs against their schemas.",
        "readOnly": true,
        "type": "boolean"
      }
    },
    "additionalProperties": false
  }
};
