"""AzureProvider against the strict fake Azure OpenAI: both URL forms, both auth headers, errors."""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from easel_mcp.errors import AuthenticationFailed, ConfigurationError, ModelNotFound, ModerationBlocked
from easel_mcp.providers import azure
from easel_mcp.providers.azure import AzureProvider
from easel_mcp.providers.base import EditRequest, GenerateRequest, InputImage
from easel_mcp.settings import Settings
from tests.fakes.azure_openai import FakeAzureOpenAI, content_filter
from tests.fakes.openai_wire import Scripted
from tests.provider_support import Closing, clean_provider_env, closing, image, mask_png, png

__all__ = ["clean_provider_env", "closing"]
pytestmark = pytest.mark.anyio

KEY, TOKEN, VERSION = "azure-test-key", "entra-test-token", "2025-04-01-preview"


@pytest.fixture
def fake() -> Iterator[FakeAzureOpenAI]:
    with FakeAzureOpenAI(
        deployments={"my-deploy": "gpt-image-1.5", "img2": "gpt-image-2", "gpt-image-1-mini": "gpt-image-1-mini"}
    ) as f:
        yield f


def provider(fake: FakeAzureOpenAI, closing: Closing, *, form: str, auth: str, **kw: Any) -> AzureProvider:
    return closing(
        AzureProvider(
            endpoint=fake.endpoint,
            api_key=KEY if auth == "key" else None,
            ad_token=TOKEN if auth == "token" else None,
            api_version=VERSION if form == "dated" else None,
            deployments=kw.pop("deployments", {"gpt-image-1.5": "my-deploy", "gpt-image-2": "img2"}),
            **kw,
        )
    )


def gen(model: str = "gpt-image-1.5", **kw: Any) -> GenerateRequest:
    return GenerateRequest(
        model=model,
        prompt=kw.pop("prompt", "a lighthouse"),
        size=kw.pop("size", "1024x1024"),
        quality=kw.pop("quality", "low"),
        **kw,
    )


@pytest.mark.parametrize("form", ["dated", "v1"])
@pytest.mark.parametrize("auth", ["key", "token"])
async def test_generate_and_edit_use_the_url_form_and_auth_header(
    fake: FakeAzureOpenAI, closing: Closing, form: str, auth: str
) -> None:
    p = provider(fake, closing, form=form, auth=auth)
    result = await p.generate(gen(n=2, output_format="jpeg", output_compression=50))
    first = png((1024, 1536), (200, 10, 10))
    await p.edit(
        EditRequest(
            model="gpt-image-1.5",
            prompt="make it blue",
            size="1024x1536",
            quality="medium",
            images=(InputImage(first, "image-1.png", "image/png"),),
            mask=mask_png((1024, 1536), (0, 0, 512, 512)),
            input_fidelity="high",
        )
    )

    assert fake.violations == [] and fake.errors == []
    gen_req, edit_req = fake.requests
    if form == "dated":
        assert gen_req.path == "/openai/deployments/my-deploy/images/generations"
        assert edit_req.path == "/openai/deployments/my-deploy/images/edits"
        assert gen_req.query == edit_req.query == {"api-version": VERSION}
    else:
        assert gen_req.path == "/openai/v1/images/generations"
        assert edit_req.path == "/openai/v1/images/edits"
        assert gen_req.query == edit_req.query == {}
    for req in (gen_req, edit_req):
        assert req.deployment == "my-deploy"
        if auth == "key":
            assert req.headers["api-key"] == KEY and "authorization" not in req.headers
        else:
            assert req.headers["authorization"] == f"Bearer {TOKEN}" and "api-key" not in req.headers
    assert gen_req.json == {
        "model": "my-deploy",
        "prompt": "a lighthouse",
        "n": 2,
        "size": "1024x1024",
        "quality": "low",
        "output_format": "jpeg",
        "output_compression": 50,
    }
    assert edit_req.fields["model"] == ["my-deploy"] and edit_req.fields["input_fidelity"] == ["high"]
    assert [f.data for f in edit_req.files["image[]"]] == [first]
    assert edit_req.files["mask"][0].image().size == (1024, 1536)
    assert len(result.images) == 2 and image(result.images[0]).format == "JPEG"
    assert result.usage == fake.usage_log[0] and result.request_id and result.request_id.startswith("req_")


async def test_an_unmapped_model_is_its_own_deployment(fake: FakeAzureOpenAI, closing: Closing) -> None:
    p = provider(fake, closing, form="dated", auth="key", deployments={})
    await p.generate(gen("gpt-image-1-mini", quality="medium"))
    assert fake.last.path == "/openai/deployments/gpt-image-1-mini/images/generations"
    assert fake.violations == []


@pytest.mark.parametrize(
    "scripted",
    [
        content_filter("content_filter", "inner_error"),
        content_filter("contentFilter", None),
        content_filter("400", "innererror"),
    ],
    ids=["content_filter", "contentFilter", "innererror-only"],
)
async def test_content_filter_is_moderation_blocked(
    fake: FakeAzureOpenAI, closing: Closing, scripted: Scripted
) -> None:
    fake.script.append(scripted)
    with pytest.raises(ModerationBlocked) as info:
        await provider(fake, closing, form="v1", auth="key").generate(gen())
    err = info.value
    assert err.provider == "azure" and err.status == 400 and err.request_id
    assert str(err).startswith("the image service's safety system refused this request; reword the prompt")
    assert "Your task failed as a result of our safety system." in str(err)


async def test_a_wrong_key_names_the_azure_settings_and_never_echoes_the_key(
    fake: FakeAzureOpenAI, closing: Closing
) -> None:
    p = closing(AzureProvider(endpoint=fake.endpoint, api_key="wrong-key-1234567890", api_version=VERSION))
    with pytest.raises(AuthenticationFailed) as info:
        await p.generate(gen())
    assert "check AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN)" in str(info.value)
    assert info.value.status == 401 and "wrong-key-1234567890" not in str(info.value)


async def test_an_unknown_deployment_points_at_the_deployment_map(fake: FakeAzureOpenAI, closing: Closing) -> None:
    p = provider(fake, closing, form="dated", auth="key", deployments={"gpt-image-1.5": "nope"})
    with pytest.raises(ModelNotFound) as info:
        await p.generate(gen())
    assert "EASEL_AZURE_DEPLOYMENTS maps models to deployments" in str(info.value)
    assert info.value.code == "DeploymentNotFound"


async def test_from_settings_reads_the_azure_variables(
    fake: FakeAzureOpenAI, closing: Closing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.endpoint + "/openai/v1/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("EASEL_AZURE_DEPLOYMENTS", " GPT-Image-1.5 = my-deploy , gpt-image-2=img2")
    p = closing(AzureProvider.from_settings(Settings()))
    assert p.endpoint == fake.endpoint and p.api_version is None
    assert p.deployments == {"gpt-image-1.5": "my-deploy", "gpt-image-2": "img2"}
    await p.generate(gen("gpt-image-2", size="1536x1024"))
    assert fake.last.path == "/openai/v1/images/generations" and fake.last.deployment == "img2"
    monkeypatch.setenv("OPENAI_API_VERSION", VERSION)
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)  # wins over the key, as in the SDK
    p = closing(AzureProvider.from_settings(Settings()))
    await p.generate(gen())
    assert fake.last.query == {"api-version": VERSION} and fake.last.headers["authorization"] == f"Bearer {TOKEN}"
    assert fake.violations == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EASEL_AZURE_DEPLOYMENTS": "gpt-image-1.5"},
            "EASEL_AZURE_DEPLOYMENTS: 'gpt-image-1.5' is not model=deployment",
        ),
        ({"AZURE_OPENAI_ENDPOINT": "res.openai.azure.com"}, "AZURE_OPENAI_ENDPOINT must be a URL"),
    ],
)
def test_bad_azure_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigurationError, match=message):
        AzureProvider.from_settings(Settings())


@pytest.fixture
def fake_identity(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A stand-in `azure.identity` (the real one is an optional extra) that records the scopes asked."""
    scopes: list[str] = []
    module = types.ModuleType("azure.identity")
    module.__spec__ = importlib.machinery.ModuleSpec("azure.identity", None)

    class DefaultAzureCredential:
        pass

    def get_bearer_token_provider(credential: object, scope: str) -> Any:
        assert isinstance(credential, DefaultAzureCredential)
        scopes.append(scope)
        return lambda: TOKEN

    module.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
    module.get_bearer_token_provider = get_bearer_token_provider  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity", module)
    return scopes


@pytest.mark.parametrize("form", ["dated", "v1"])
async def test_entra_id_sign_in_when_azure_identity_is_installed(
    fake: FakeAzureOpenAI, fake_identity: list[str], monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.endpoint)
    monkeypatch.setenv("EASEL_AZURE_DEPLOYMENTS", "gpt-image-1.5=my-deploy")
    if form == "dated":
        monkeypatch.setenv("OPENAI_API_VERSION", VERSION)
    p = AzureProvider.from_settings(Settings())
    await p.generate(gen())
    await p.aclose()
    assert fake_identity == ["https://cognitiveservices.azure.com/.default"]
    assert fake.last.headers["authorization"] == f"Bearer {TOKEN}" and "api-key" not in fake.last.headers
    assert fake.violations == []


def test_without_azure_identity_there_is_no_token_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if not installed
    assert azure.entra_token_provider() is None
