import { h, replace } from './dom.js';
import { api, saveSession, ApiError } from './api.js';

export function renderLogin(root, { message, onLogin }) {
  const err = h('p', { class: 'form-error', id: 'login-error', role: 'alert' });
  if (message) err.textContent = message;
  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true, 'aria-describedby': 'login-error' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'login-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Zaloguj się');
  const form = h('form', { class: 'card login', novalidate: true },
    h('h1', null, 'Logowanie'),
    h('p', { class: 'note' }, 'Karty projektów z arkusza kalkulacyjnego: wczytaj plik, przejrzyj wygenerowane karty i pobierz je jako dokumenty.'),
    err,
    h('div', { class: 'field' }, h('label', { for: 'email' }, 'Adres e-mail'), email),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Hasło'), password),
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    if (!email.value.trim() || !password.value) {
      err.textContent = 'Podaj adres e-mail i hasło.';
      (email.value.trim() ? password : email).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logowanie…';
    try {
      const r = await api('POST', '/api/auth/login', { json: { email: email.value.trim(), password: password.value }, auth: false });
      saveSession({ token: r.token, expires_at: r.expires_at, user: r.user });
      onLogin();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 400)) err.textContent = 'Nieprawidłowy adres e-mail lub hasło.';
      else if (e instanceof ApiError && e.status === 429) err.textContent = 'Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za kilka minut.';
      else err.textContent = e.message;
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Zaloguj się';
    }
  });
  replace(root, form);
  setTimeout(() => email.focus(), 0);
  return null;
}
