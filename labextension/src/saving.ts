import { Dialog, showDialog } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';

/**
 * Extraction and runs read the notebook from disk: offer to save unsaved edits first.
 * Resolves true when the saved file is current (already clean, or saved now), false when cancelled.
 */
export async function saveBeforeUsingFile(
  context: DocumentRegistry.Context,
  title: string,
  body: string
): Promise<boolean> {
  if (!context.model.dirty) {
    return true;
  }
  const save = await showDialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: 'Save and Continue' })
    ]
  });
  if (!save.button.accept) {
    return false;
  }
  await context.save();
  return true;
}
