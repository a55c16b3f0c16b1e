"""ragkit.ollama: a complete, typed client for the Ollama REST API.

Sync :class:`Client` and async :class:`AsyncClient` cover every native endpoint
and the OpenAI-compatible ``/v1`` endpoints (``client.openai``). They depend
only on httpx and ``ragkit.errors``.
"""

from __future__ import annotations

from ragkit.errors import (
    ConfigError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    ResponseError,
)
from ragkit.ollama._base import DEFAULT_TIMEOUT, Format, OptionsInput, Think
from ragkit.ollama._client import AsyncClient, Client
from ragkit.ollama._durations import KeepAlive, check_keep_alive, seconds
from ragkit.ollama._errors import InvalidHostError
from ragkit.ollama._host import DEFAULT_HOST, parse_host
from ragkit.ollama._images import ImageInput, encode_image
from ragkit.ollama._openai import AsyncOpenAI, OpenAI
from ragkit.ollama._openai_types import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionChunkChoice,
    ChatCompletionMessage,
    ChatCompletionToolCall,
    Completion,
    CompletionChoice,
    OpenAIEmbedding,
    OpenAIEmbeddingList,
    OpenAIFunctionCall,
    OpenAIModel,
    OpenAIModelList,
    OpenAIUsage,
)
from ragkit.ollama._stream import AsyncStream, Stream
from ragkit.ollama._tools import MessageInput, ToolInput, tool_from_function
from ragkit.ollama._types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListedModel,
    ListResponse,
    Logprob,
    Message,
    ModelDetails,
    Options,
    ProcessResponse,
    ProgressResponse,
    RunningModel,
    ShowResponse,
    StatusResponse,
    Tool,
    ToolCall,
    ToolCallFunction,
    ToolFunction,
    VersionResponse,
    parse_parameters,
    parse_time,
)

__all__ = [
    "AsyncClient",
    "AsyncOpenAI",
    "AsyncStream",
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionChunkChoice",
    "ChatCompletionMessage",
    "ChatCompletionToolCall",
    "ChatResponse",
    "Client",
    "Completion",
    "CompletionChoice",
    "ConfigError",
    "DEFAULT_HOST",
    "DEFAULT_TIMEOUT",
    "EmbedResponse",
    "EmbeddingsResponse",
    "Format",
    "GenerateResponse",
    "ImageInput",
    "InvalidHostError",
    "KeepAlive",
    "ListResponse",
    "ListedModel",
    "Logprob",
    "Message",
    "MessageInput",
    "ModelDetails",
    "ModelNotFoundError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "OpenAI",
    "OpenAIEmbedding",
    "OpenAIEmbeddingList",
    "OpenAIFunctionCall",
    "OpenAIModel",
    "OpenAIModelList",
    "OpenAIUsage",
    "Options",
    "OptionsInput",
    "ProcessResponse",
    "ProgressResponse",
    "ResponseError",
    "RunningModel",
    "ShowResponse",
    "StatusResponse",
    "Stream",
    "Think",
    "Tool",
    "ToolCall",
    "ToolCallFunction",
    "ToolFunction",
    "ToolInput",
    "VersionResponse",
    "check_keep_alive",
    "encode_image",
    "parse_host",
    "parse_parameters",
    "parse_time",
    "seconds",
    "tool_from_function",
]
