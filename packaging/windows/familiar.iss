; Inno Setup script for Familiar on Windows (Inno Setup 6). Not built in CI: it needs Windows.
;
; 1. On Windows, build the bundle:   .venv\Scripts\pyinstaller --noconfirm packaging\familiar.spec
;    (dist\familiar\ then holds familiar.exe (console, CLI) and familiar-gui.exe (no console))
; 2. Compile the installer:          iscc packaging\windows\familiar.iss
;    -> dist\Familiar-Setup-0.1.0.exe
;
; Per-user install (no admin rights): {localappdata}\Programs\Familiar. Start-menu entry, an
; optional desktop icon, optional start at login through the current user's Run key (the same
; value app\core\autostart.py writes, so the app's "Start at login" setting and the installer
; agree). The uninstaller removes the program and the Run value, then asks whether to delete
; the user's data too (the encrypted profile, models and logs in %LOCALAPPDATA%\Familiar).

#define AppName "Familiar"
#define AppVersion "0.1.0"
#define AppId "io.github.familiar.Familiar"
#define BundleDir "..\..\dist\familiar"

[Setup]
AppId={#AppId}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=The Familiar developers
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=Familiar-Setup-{#AppVersion}
SetupIconFile=..\..\assets\icons\familiar.ico
UninstallDisplayIcon={app}\familiar-gui.exe
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "Create a &desktop icon"; GroupDescription: "Additional icons:"; Flags: unchecked
Name: "autostart"; Description: "Start Familiar when I sign in"; GroupDescription: "Start:"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\familiar-gui.exe"; AppUserModelID: "{#AppId}"
Name: "{group}\{#AppName} Quick Ask"; Filename: "{app}\familiar-gui.exe"; Parameters: "quick-ask"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\familiar-gui.exe"; Tasks: desktopicon

[Registry]
; Value name "Familiar" = app.core.autostart.RUN_VALUE; removed again by the uninstaller.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "Familiar"; ValueData: """{app}\familiar-gui.exe"" --tray"; Flags: uninsdeletevalue; Tasks: autostart

[Run]
Filename: "{app}\familiar-gui.exe"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[Code]
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep = usPostUninstall then
  begin
    RegDeleteValue(HKEY_CURRENT_USER, 'Software\Microsoft\Windows\CurrentVersion\Run', 'Familiar');
    DataDir := ExpandConstant('{localappdata}\Familiar');
    if DirExists(DataDir) and not UninstallSilent then
    begin
      if MsgBox('Also delete your Familiar data?' #13#10 #13#10 +
                'This removes your encrypted profile (conversations, memories, the index of your ' +
                'files), downloaded models and logs in:' #13#10 + DataDir + #13#10 #13#10 +
                'Your own documents are not touched. This cannot be undone.',
                mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(DataDir, True, True, True);
    end;
  end;
end;
