from adapters._redact import REDACTED, Redactor


def test_it_removes_registered_secrets():
    redactor = Redactor(("s3cr3t-value",))
    assert redactor.redact("client_id=x&secret s3cr3t-value") == f"client_id=x&secret {REDACTED}"


def test_it_removes_bearer_tokens_url_queries_secret_fields_and_email_addresses():
    text = (
        "Authorization: Bearer abc.def-123 at https://pas.test/api/v1/x?pupil_id=581207 "
        "client_secret=hunter22 mail sanne@mail.example"
    )
    result = Redactor().redact(text)
    for leaked in ("abc.def-123", "581207", "hunter22", "sanne@mail.example"):
        assert leaked not in result
    assert "https://pas.test/api/v1/x" in result


def test_it_ignores_secrets_too_short_to_redact_safely():
    assert Redactor(("ab",)).redact("abc") == "abc"


def test_its_repr_does_not_show_the_secrets():
    assert "s3cr3t" not in repr(Redactor(("s3cr3t-value",)))


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.text(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=4), st.text())
def test_it_never_lets_a_registered_secret_through(before, secret, after):
    assert secret not in Redactor((secret,)).redact(before + secret + after)
