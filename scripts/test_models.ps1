# Score up to five test videos of each exercise with that exercise's exported ONNX model, as the
# original project's test script did (`cli.py score --test_sets`; Windows PowerShell / PowerShell 7):
#   powershell -ExecutionPolicy Bypass -File scripts\test_models.ps1
#   powershell -File scripts\test_models.ps1 -DataDir D:\data -ModelDir D:\checkpoints
#   powershell -File scripts\test_models.ps1 --json        # other arguments go to `cli.py score`
# An exercise whose test folder or model is missing is skipped with a message; the exit status is
# non-zero when a video could not be scored.
param(
    [string]$DataDir = "data",
    [string]$ModelDir = "checkpoints",
    [int]$MaxVideos = 5,
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$ScoreArgs = @()
)
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
$python = if (Test-Path ".venv\Scripts\python.exe") { ".venv\Scripts\python.exe" } else { "python" }
& $python cli.py score --test_sets --data_dir $DataDir --model_dir $ModelDir --limit $MaxVideos @ScoreArgs
exit $LASTEXITCODE
