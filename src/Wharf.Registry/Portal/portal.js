// Progressive enhancement only: every page works without this file. A copy button puts its
// data-copy text (a pull command) on the clipboard and says so to screen readers.
// navigator.clipboard exists only in a secure context (https, or http on loopback); a portal served
// over plain http on a cluster host name falls back to copying a selected, off-screen text field.
function copyBySelection(text) {
  const field = document.createElement('textarea');
  field.value = text;
  field.setAttribute('readonly', '');
  field.style.position = 'fixed';
  field.style.left = '-9999px';
  document.body.appendChild(field);
  field.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  field.remove();
  return copied;
}

document.addEventListener('click', async (event) => {
  const button = event.target.closest('button.copy');
  if (!button) return;
  const text = button.getAttribute('data-copy');
  let copied = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      copied = false;
    }
  }
  if (!copied) copied = copyBySelection(text);
  button.setAttribute('aria-live', 'polite');
  button.textContent = copied ? 'Copied' : 'Select the command to copy';
  button.focus();
});
