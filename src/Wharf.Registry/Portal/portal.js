// Progressive enhancement only: every page works without this file. A copy button puts its
// data-copy text (a pull command) on the clipboard and says so to screen readers.
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button.copy');
  if (!button) return;
  const text = button.getAttribute('data-copy');
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Select the command to copy';
  }
  button.setAttribute('aria-live', 'polite');
});
