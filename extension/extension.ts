// Placeholder for the VS Code extension client (see the extension issue).
// Activation does nothing yet; the bundle exists so packaging can be wired.
export function activate(): void {}
export function deactivate(): void {}
