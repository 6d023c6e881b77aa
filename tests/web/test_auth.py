from __future__ import annotations

from tests.web.conftest import PASSWORD, csrf_token


def test_login_page_renders_with_csrf_and_csp(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="csrf_token"' in response.get_data(as_text=True)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "agent", "password": PASSWORD})
    assert response.status_code == 400


def test_wrong_password_is_refused(client):
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": "agent", "password": "falsch-falsch", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "falsch" in response.get_data(as_text=True)


def test_login_redirects_to_the_roles_home(client, login):
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": "editor", "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"].endswith("/editor/")


def test_next_parameter_cannot_leave_the_site(client):
    token = csrf_token(client)
    response = client.post(
        "/login?next=https://evil.example/",
        data={"username": "agent", "password": PASSWORD, "csrf_token": token},
    )
    assert "evil.example" not in response.headers["Location"]


def test_anonymous_is_sent_to_login(client):
    response = client.get("/agent/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_role_boundaries(login):
    client = login("agent")
    assert client.get("/agent/").status_code == 200
    assert client.get("/editor/").status_code == 403
    assert client.get("/analytics/").status_code == 403


def test_admin_may_see_everything(login):
    client = login("admin")
    for path in ("/agent/", "/editor/", "/analytics/"):
        assert client.get(path).status_code == 200, path


def test_logout_needs_csrf_and_ends_the_session(login):
    client = login("agent")
    assert client.post("/logout").status_code == 400
    token = csrf_token(client, "/login")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/agent/").status_code == 302


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_oversized_request_is_refused(client):
    response = client.post("/login", data={"username": "x" * 300_000})
    assert response.status_code == 413
