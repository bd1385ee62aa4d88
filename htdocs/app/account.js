// "Zmień hasło": POST /api/auth/password.  The server ends every other
// session of the user and answers with a new token for this one.
import { h, replace, toast } from './dom.js';
import { api, saveSession, session, ApiError } from './api.js';

const MIN_CHARS = 12; // README "Authentication": the password rule

function field(id, label, autocomplete) {
  const input = h('input', { id, name: id, type: 'password', autocomplete, required: true, 'aria-describedby': 'account-error' });
  return { input, el: h('div', { class: 'field' }, h('label', { for: id }, label), input) };
}

export function renderAccount(root) {
  const err = h('p', { class: 'form-error', id: 'account-error', role: 'alert' });
  const cur = field('current-password', 'Obecne hasło', 'current-password');
  const neu = field('new-password', 'Nowe hasło', 'new-password');
  const rep = field('repeat-password', 'Powtórz nowe hasło', 'new-password');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Zmień hasło');
  const form = h('form', { class: 'card login', novalidate: true },
    h('h1', null, 'Zmiana hasła'),
    h('p', { class: 'note' }, `Co najmniej ${MIN_CHARS} znaków; nie może być popularnym hasłem ani Twoim adresem e-mail. Po zmianie wszystkie inne sesje (inne karty, urządzenia) zostaną wylogowane.`),
    err, cur.el, neu.el, rep.el, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    if (!cur.input.value) { err.textContent = 'Podaj obecne hasło.'; cur.input.focus(); return; }
    if ([...neu.input.value].length < MIN_CHARS) {
      err.textContent = `Nowe hasło musi mieć co najmniej ${MIN_CHARS} znaków.`;
      neu.input.focus();
      return;
    }
    if (neu.input.value !== rep.input.value) { err.textContent = 'Hasła nie są takie same.'; rep.input.focus(); return; }
    submit.disabled = true;
    try {
      const r = await api('POST', '/api/auth/password', { json: { current_password: cur.input.value, new_password: neu.input.value } });
      saveSession({ token: r.token, expires_at: r.expires_at, user: r.user || (session() || {}).user });
      toast('Hasło zostało zmienione. Pozostałe sesje zostały zakończone.', 'ok');
      location.hash = '#/';
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.message : 'Nie udało się zmienić hasła.';
      (e.code === 'wrong_password' ? cur.input : neu.input).focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(root, form);
  setTimeout(() => cur.input.focus(), 0);
  return null;
}
