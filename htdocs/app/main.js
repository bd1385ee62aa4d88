// Kartograf browser UI: hash routing and the session.
import { h, replace, initAnnouncers, focusHeading, setTitle, toast } from './dom.js';
import { session, clearSession, sessionExpired, setUnauthorizedHandler, logoutServer } from './api.js';
import { renderAccount } from './account.js';
import { renderLogin } from './login.js';
import { renderBatches } from './batches.js';
import { renderBatch } from './batch.js';
import { renderProject } from './project.js';

const main = document.getElementById('main');
let cleanup = null; // the current view's teardown (closes streams, timers)
let flash = null;   // message for the login page

export function logout(message) {
  clearSession();
  flash = message || null;
  if (location.hash !== '#/login') location.hash = '#/login';
  else route();
}

// "Wyloguj": end the session on the server first, so the token is dead
// even where it was copied to, then forget it here.
async function signOut() {
  await logoutServer();
  logout(null);
}

setUnauthorizedHandler(() => {
  if (!session()) return;
  logout('Sesja wygasła, zaloguj się ponownie');
});

function updateNav() {
  const s = session();
  const nav = document.getElementById('nav');
  nav.hidden = !s;
  const who = document.getElementById('who');
  who.textContent = s && s.user ? (s.user.display_name || s.user.email || '') : '';
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { /* ignore */ } cleanup = null; }
  const hash = location.hash.replace(/^#/, '') || '/';
  const parts = hash.split('?')[0].split('/').filter(Boolean);
  updateNav();
  if (parts[0] !== 'login' && (!session() || sessionExpired())) {
    if (session()) { logout('Sesja wygasła, zaloguj się ponownie'); return; }
    location.hash = '#/login';
    return;
  }
  const view = h('div', { class: 'view' });
  replace(main, view);
  try {
    if (parts[0] === 'login') {
      if (session() && !sessionExpired()) { location.hash = '#/'; return; }
      setTitle('Logowanie');
      cleanup = renderLogin(view, { message: flash, onLogin: () => { flash = null; location.hash = '#/'; } });
      flash = null;
    } else if (parts.length === 0 || (parts[0] === 'batches' && parts.length === 1)) {
      setTitle('Zestawy projektów');
      cleanup = renderBatches(view);
    } else if (parts[0] === 'batches' && parts[1]) {
      setTitle('Zestaw');
      cleanup = renderBatch(view, decodeURIComponent(parts[1]));
    } else if (parts[0] === 'account') {
      setTitle('Zmiana hasła');
      cleanup = renderAccount(view);
    } else if (parts[0] === 'projects' && parts[1]) {
      setTitle('Karta projektu');
      cleanup = renderProject(view, decodeURIComponent(parts[1]));
    } else {
      setTitle('Nie znaleziono');
      replace(view, h('h1', null, 'Nie ma takiej strony'), h('p', null, h('a', { href: '#/' }, 'Wróć do listy zestawów')));
    }
  } catch (e) {
    console.error(e);
    toast('Nie udało się wyświetlić strony.', 'error');
  }
  if (parts[0] !== 'login') requestAnimationFrame(() => focusHeading(view));
}

function boot() {
  initAnnouncers();
  document.getElementById('logout').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  // the token's expiry, checked while the page stays open
  setInterval(() => {
    if (session() && sessionExpired()) logout('Sesja wygasła, zaloguj się ponownie');
  }, 30000);
  route();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
