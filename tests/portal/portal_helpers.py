"""Helpers for driving the portal through a TestClient: read a form's CSRF token, register, log in."""

from __future__ import annotations

import re
import warnings

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 package instead of httpx (which Airflow pins); httpx works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery staple"
EMAIL = "ann.lee@example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = _CSRF.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match[1]


def registration(role: str, **overrides) -> dict[str, str]:
    form = {
        "name": "Ann Lee",
        "email": EMAIL,
        "phone": "+1 555 010 0199",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "address": "1 Main Street, Northfield",
        "location_id": "1",
        "store_name" if role == "store_manager" else "department": "Northfield Store"
        if role == "store_manager"
        else "Replenishment",
    }
    form.update(overrides)
    return form


def register(client: TestClient, role: str, **overrides):
    token = csrf_token(client, f"/register/{role}")
    return client.post(f"/register/{role}", data={**registration(role, **overrides), "csrf_token": token})


def login(client: TestClient, role: str, email: str = EMAIL, password: str = PASSWORD):
    token = csrf_token(client, f"/login/{role}")
    return client.post(f"/login/{role}", data={"email": email, "password": password, "csrf_token": token})


def registered_and_logged_in(client: TestClient, role: str, **overrides) -> TestClient:
    assert register(client, role, **overrides).status_code == 303
    response = login(client, role, overrides.get("email", EMAIL))
    assert response.status_code == 303 and response.headers["location"] == "/dashboard", response.text
    return client
